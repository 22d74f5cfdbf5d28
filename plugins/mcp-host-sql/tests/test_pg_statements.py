"""Which statements the PostgreSQL tools accept, decided by PostgreSQL's parser (no server)."""

from __future__ import annotations

import pytest
from mcp_host_sql.databases import SqlError
from mcp_host_sql.pg_statements import check_read, check_write, explain_text


def refused(check: object, sql: str, **options: object) -> str:
    with pytest.raises(SqlError) as caught:
        check(sql, database="shop", **options)  # type: ignore[operator]
    return str(caught.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select * from orders where id = $1",
        "WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT * FROM n",
        "VALUES (1, 'a'), (2, 'b')",
        "TABLE orders",
        "SHOW work_mem",
        "SHOW ALL",
        "(SELECT 1) UNION (SELECT 2) ORDER BY 1",
        "  -- a comment\n SELECT 1 /* and another */ ;",
        "SELECT pg_sleep(0.1), now(), current_setting('work_mem')",
        "SELECT 'pg_read_file(''/etc/passwd'')' AS just_text",
        "SELECT lower('COPY t TO PROGRAM ''x''')",
        'SELECT * FROM "Weird Name"',
    ],
)
def test_read_statements_pass(sql: str) -> None:
    check_read(sql, database="shop", writable=False)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DELETE FROM orders", "DELETE is not one"),
        ("insert into customers (name) values ('x')", "INSERT is not one"),
        ("UPDATE customers SET balance = 0", "UPDATE is not one"),
        ("MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE", "MERGE is not one"),
        ("CREATE TABLE intruder (id int)", "CREATE is not one"),
        ("DO $$ BEGIN PERFORM 1; END $$", "DO is not one"),
        ("/* hidden */ -- too\n  vacuum orders", "VACUUM is not one"),
        ("SET statement_timeout = 0", "SET is not one"),
        ("RESET ALL", "RESET is not one"),
        ("BEGIN", "BEGIN is not one"),
        ("LOCK TABLE orders", "LOCK is not one"),
        ("LISTEN channel", "LISTEN is not one"),
        ("NOTIFY channel", "NOTIFY is not one"),
        ("LOAD 'plpgsql'", "LOAD is not one"),
        ("CHECKPOINT", "CHECKPOINT is not one"),
        ("CALL some_procedure()", "CALL is not one"),
        ("PREPARE p AS SELECT 1", "PREPARE is not one"),
        ("DECLARE c CURSOR FOR SELECT 1", "DECLARE is not one"),
        ("ALTER SYSTEM SET work_mem = '1GB'", "ALTER is not one"),
        ("EXPLAIN ANALYZE DELETE FROM orders", "Use the explain tool"),
        ("EXPLAIN SELECT 1", "Use the explain tool"),
        ("COPY orders TO STDOUT", "COPY is refused"),
        ("copy (select 1) to program 'id'", "COPY is refused"),
        ("COPY orders TO '/tmp/orders.csv'", "COPY is refused"),
        ("COPY orders FROM '/etc/passwd'", "COPY is refused"),
        ("SELECT 1; SELECT 2", "holds 2 statements"),
        ("SELECT 1; DELETE FROM orders", "holds 2 statements"),
        ("", "holds no statement"),
        (" ; -- nothing", "holds no statement"),
        ("SELEC * FROM orders", "syntax error"),
        ("SELECT 'unterminated", "syntax error"),
        (
            "WITH gone AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM gone",
            "holds DELETE (in a WITH clause)",
        ),
        (
            "SELECT * FROM (WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x) s",
            "holds INSERT",
        ),
        ("SELECT * INTO copy_of_orders FROM orders", "SELECT ... INTO creates a table"),
        ("SELECT * FROM orders FOR UPDATE", "FOR UPDATE and FOR SHARE"),
        ("SELECT * FROM orders FOR KEY SHARE SKIP LOCKED", "FOR UPDATE and FOR SHARE"),
        ("SELECT * FROM (SELECT * FROM orders FOR NO KEY UPDATE) s", "FOR UPDATE and FOR SHARE"),
    ],
)
def test_anything_else_is_refused_with_a_sentence(sql: str, expected: str) -> None:
    message = refused(check_read, sql, writable=False)
    assert expected in message
    assert "'shop'" in message
    assert message.endswith(".")


def test_writable_databases_are_pointed_to_execute() -> None:
    assert "Use the execute tool" in refused(check_read, "DELETE FROM orders", writable=True)
    assert "Use the execute tool" not in refused(check_read, "DELETE FROM orders", writable=False)


@pytest.mark.parametrize(
    ("sql", "function"),
    [
        ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
        ("SELECT pg_catalog.pg_read_binary_file('/etc/passwd')", "pg_read_binary_file"),
        ('SELECT "pg_catalog"."pg_ls_dir"(\'.\')', "pg_ls_dir"),
        ("SELECT * FROM PG_LS_DIR('.') AS f", "pg_ls_dir"),
        ("SELECT * FROM pg_ls_waldir()", "pg_ls_waldir"),
        ("SELECT pg_stat_file('postgresql.conf')", "pg_stat_file"),
        ("SELECT lo_export(16384, '/tmp/x')", "lo_export"),
        ("SELECT lo_import('/etc/passwd')", "lo_import"),
        ("SELECT loread(lo_open(1, 262144), 100)", "loread"),
        ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "pg_terminate_backend"),
        ("SELECT pg_cancel_backend(1)", "pg_cancel_backend"),
        ("SELECT pg_reload_conf()", "pg_reload_conf"),
        ("SELECT pg_rotate_logfile()", "pg_rotate_logfile"),
        ("SELECT pg_advisory_lock(42)", "pg_advisory_lock"),
        ("SELECT pg_advisory_xact_lock_shared(42)", "pg_advisory_xact_lock_shared"),
        ("SELECT pg_try_advisory_lock(42)", "pg_try_advisory_lock"),
        ("SELECT set_config('statement_timeout', '0', false)", "set_config"),
        ("SELECT * FROM dblink('host=10.0.0.1', 'SELECT 1') AS t(x int)", "dblink"),
        ("SELECT query_to_xml('SELECT pg_read_file(''x'')', true, true, '')", "query_to_xml"),
        ("SELECT pg_notify('channel', 'x')", "pg_notify"),
        ("SELECT pg_switch_wal()", "pg_switch_wal"),
        ("SELECT pg_stat_reset()", "pg_stat_reset"),
        ("SELECT public.pg_stat_statements_reset()", "pg_stat_statements_reset"),
        ("SELECT pg_create_logical_replication_slot('s', 'pgoutput')", "pg_create_"),
        ("SELECT pg_file_write('x', 'y', false)", "pg_file_write"),
        ("SELECT 1 WHERE EXISTS (SELECT pg_read_file('/etc/passwd'))", "pg_read_file"),
        ("WITH f AS (SELECT pg_ls_dir('.') AS n) SELECT * FROM f", "pg_ls_dir"),
        ("SELECT count(*) FILTER (WHERE pg_reload_conf()) FROM orders", "pg_reload_conf"),
        ("SELECT * FROM orders ORDER BY pg_advisory_lock(id)", "pg_advisory_lock"),
        ("VALUES (pg_read_file('/etc/passwd'))", "pg_read_file"),
        # Field notation calls a function of one argument: (value).function.
        ("SELECT ('.'::text).pg_ls_dir", "pg_ls_dir"),
        ("SELECT (('/etc/passwd'::text)).PG_READ_FILE", "pg_read_file"),
        ("SELECT (name).pg_read_file FROM customers", "pg_read_file"),
        ("SELECT (c).name.pg_stat_file FROM customers c", "pg_stat_file"),
        ("SELECT * FROM orders WHERE ((details->>'f')).pg_ls_dir IS NOT NULL", "pg_ls_dir"),
    ],
)
def test_server_functions_are_refused_wherever_they_hide(sql: str, function: str) -> None:
    message = refused(check_read, sql, writable=False)
    assert f"function {function}" in message
    assert "outside the database" in message
    # execute refuses them too.
    assert f"function {function}" in refused(check_write, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM pg_authid",
        "SELECT rolpassword FROM pg_catalog.pg_shadow",
        "TABLE pg_hba_file_rules",
        "SELECT * FROM orders JOIN pg_file_settings ON true",
    ],
)
def test_password_hashes_and_server_files_are_refused(sql: str) -> None:
    assert "is refused" in refused(check_read, sql, writable=False)


def test_text_the_parser_would_read_differently_is_refused() -> None:
    # libpg_query reads a C string: past a NUL it would check nothing.
    for check, options in [
        (check_read, {"writable": False}),
        (explain_text, {"writable": False}),
        (check_write, {}),
    ]:
        message = refused(check, "SELECT 1\x00; DELETE FROM orders", **options)
        assert "contains a NUL character" in message
        assert "not valid Unicode" in refused(check, "SELECT '\ud800'", **options)


def test_sql_is_bounded_before_it_is_parsed() -> None:
    # 4 MB of SELECT 1,1,1,... took 40 s and 2 GB to check; the text is measured first.
    huge = "SELECT " + ",".join(["1"] * 2_000_000)
    message = refused(check_read, huge, writable=False)
    assert "is 4,000,006 characters long; the tools take at most 100,000" in message
    assert "is 4,000,006 characters" in refused(check_write, huge)
    assert "is 4,000,014 characters" in refused(explain_text, "EXPLAIN " + huge, writable=False)
    check_read("SELECT " + ",".join(["1"] * 49_000), database="shop", writable=False)


def test_deep_nesting_is_refused_without_crashing() -> None:
    # pglast's own tree conversion overflows the C stack near 20,000 levels; the JSON path
    # turns every depth into an error sentence.
    for depth in (2_000, 30_000):
        assert "nested too deeply" in refused(
            check_read, "SELECT " + "+".join(["1"] * depth), writable=False
        )
    assert "nested too deeply" in refused(
        check_read, "SELECT " + "(" * 40_000 + "1" + ")" * 40_000, writable=False
    )
    check_read("SELECT " + "+".join(["1"] * 200), database="shop", writable=False)
    check_read(
        "SELECT id FROM orders WHERE id IN (" + ", ".join(map(str, range(10_000))) + ")",
        database="shop",
        writable=False,
    )


@pytest.mark.parametrize(
    ("sql", "text"),
    [
        ("SELECT * FROM orders", "EXPLAIN SELECT * FROM orders"),
        ("VALUES (1)", "EXPLAIN VALUES (1)"),
        ("SELECT 1 -- trailing comment", "EXPLAIN SELECT 1 -- trailing comment"),
        ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN ANALYZE SELECT 1"),
        ("EXPLAIN (FORMAT JSON, ANALYZE) SELECT 1", "EXPLAIN (FORMAT JSON, ANALYZE) SELECT 1"),
    ],
)
def test_explain_explains_reads(sql: str, text: str) -> None:
    assert explain_text(sql, database="shop", writable=False) == text


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("EXPLAIN ANALYZE DELETE FROM orders", "EXPLAIN of DELETE is not one"),
        ("EXPLAIN (ANALYZE) INSERT INTO t VALUES (1)", "EXPLAIN of INSERT is not one"),
        ("EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1", "EXPLAIN of that statement"),
        ("EXPLAIN ANALYZE EXECUTE p", "EXPLAIN of that statement"),
        ("DELETE FROM orders", "DELETE is not one"),
        ("ANALYZE orders", "ANALYZE is not one"),
        ("SHOW work_mem", "SHOW is not one"),
        ("COPY orders TO STDOUT", "COPY is refused"),
        ("SELECT 1; DELETE FROM orders", "holds 2 statements"),
        ("EXPLAIN ANALYZE SELECT pg_read_file('/etc/passwd')", "function pg_read_file"),
        (
            "EXPLAIN ANALYZE WITH d AS (DELETE FROM orders RETURNING 1) SELECT * FROM d",
            "holds DELETE",
        ),
        ("EXPLAIN ANALYZE SELECT * FROM orders FOR UPDATE", "FOR UPDATE"),
        ("EXPLAIN ANALYZE SELECT * INTO t FROM orders", "SELECT ... INTO"),
        # What "EXPLAIN " + sql would turn into a write is checked as a whole.
        ("ANALYZE DELETE FROM orders", "syntax error"),
    ],
)
def test_explain_never_analyzes_anything_else(sql: str, expected: str) -> None:
    assert expected in refused(explain_text, sql, writable=False)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO customers (name) VALUES ($1) RETURNING id",
        "UPDATE customers SET balance = balance + 1 WHERE id = $1",
        "DELETE FROM customers WHERE id = $1",
        "CREATE TABLE notes (id int)",
        "WITH gone AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM gone",
        "SELECT 1 FROM orders FOR UPDATE",
    ],
)
def test_execute_takes_one_statement_that_may_write(sql: str) -> None:
    check_write(sql, database="shop")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("COPY customers FROM '/etc/passwd'", "COPY is refused"),
        ("COPY customers TO PROGRAM 'id'", "COPY is refused"),
        ("COPY customers FROM STDIN", "COPY is refused"),
        ("BEGIN", "transaction control"),
        ("COMMIT", "transaction control"),
        ("SET ROLE postgres", "SET and RESET"),
        ("SET search_path = evil", "SET and RESET"),
        ("RESET ALL", "SET and RESET"),
        ("LOAD 'auto_explain'", "LOAD"),
        ("ALTER SYSTEM SET archive_command = 'id'", "ALTER SYSTEM"),
        ("INSERT INTO t SELECT lo_import('/etc/passwd')", "function lo_import"),
        ("DELETE FROM t; DELETE FROM u", "holds 2 statements"),
    ],
)
def test_execute_refuses_what_reaches_outside(sql: str, expected: str) -> None:
    assert expected in refused(check_write, sql)
