"""The audit log: one structured record per tools/call, resources/read and prompts/get."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from mcp_host import Plugin, Principal, ToolError
from mcp_host.errors import INSUFFICIENT_SCOPE
from mcp_host.protocol import Engine
from mcp_host.protocol.audit import AuditLog, PluginAudit, secret_values
from mcp_host.server import interceptors
from mcp_host.testing import RequestFailed, serve

from .conftest import Client
from .test_authorize import READER, vault_engine

pytestmark = pytest.mark.anyio

AUDIT = "mcp_host.audit"


def records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == AUDIT]  # type: ignore[attr-defined]


def audited_engine(**plugins: PluginAudit) -> Engine:
    plain = vault_engine()
    return Engine(plain.catalog, plain.settings, interceptors=[AuditLog(plugins)])


@pytest.fixture
def audit_on(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=AUDIT)
    return caplog


async def test_a_tool_call_is_one_record_with_every_field(
    audit_on: pytest.LogCaptureFixture,
) -> None:
    client = Client(
        audited_engine(), caller=READER, principal=READER.key, transport="streamable_http"
    )
    await client.modern("tools/call", {"name": "read_secret", "arguments": {"name": "db"}})
    [record] = records(audit_on)
    assert set(record) == {
        "time",
        "principal",
        "principal_kind",
        "issuer",
        "transport",
        "method",
        "request_id",
        "name",
        "plugin",
        "outcome",
        "error_code",
        "duration_ms",
    }
    assert record["principal"] == "alice"
    assert record["principal_kind"] == "oauth"
    assert record["issuer"] == "https://as.example/"
    assert record["transport"] == "streamable_http"
    assert (record["method"], record["name"], record["plugin"]) == (
        "tools/call",
        "read_secret",
        "vault",
    )
    assert (record["outcome"], record["error_code"]) == ("ok", None)
    assert record["duration_ms"] >= 0
    assert datetime.fromisoformat(record["time"]).tzinfo is not None
    assert "arguments" not in record  # never by default
    [log] = [r for r in audit_on.records if r.name == AUDIT]
    assert log.levelno == logging.INFO
    assert log.getMessage().startswith(
        "audit: tools/call read_secret [vault] by alice (https://as.example/) via streamable_http: ok in "
    )


async def test_denied_errors_and_tool_errors_are_told_apart(
    audit_on: pytest.LogCaptureFixture,
) -> None:
    engine = audited_engine()
    client = Client(engine, caller=READER, principal=READER.key, transport="sse")
    denied = await client.modern("tools/call", {"name": "write_secret", "arguments": {}})
    assert denied["error"]["code"] == INSUFFICIENT_SCOPE
    await client.modern("tools/call", {"name": "nothing", "arguments": {}})
    await client.modern("tools/call", {"name": "read_secret", "arguments": {}})  # missing arg
    await client.modern("resources/read", {"uri": "vault://keys"})
    await client.modern("prompts/get", {"name": "review", "arguments": {"name": "x"}})
    await client.modern("tools/list")  # not audited
    got = [
        (r["method"], r["name"], r["plugin"], r["outcome"], r["error_code"])
        for r in records(audit_on)
    ]
    assert got[0] == ("tools/call", "write_secret", "vault", "denied", INSUFFICIENT_SCOPE)
    assert got[1][1:4] == ("nothing", None, "error")
    assert got[2] == ("tools/call", "read_secret", "vault", "tool_error", None)
    assert got[3] == ("resources/read", "vault://keys", "vault", "denied", INSUFFICIENT_SCOPE)
    assert got[4] == ("prompts/get", "review", "vault", "ok", None)
    assert len(got) == 5
    assert "denied -32003" in audit_on.records[0].getMessage()


async def test_without_a_caller_the_principal_is_a_dash(audit_on: pytest.LogCaptureFixture) -> None:
    client = Client(audited_engine(), transport="stdio")
    await client.modern("tools/call", {"name": "public", "arguments": {}})
    [record] = records(audit_on)
    assert (record["principal"], record["principal_kind"], record["issuer"]) == ("-", None, None)
    assert record["transport"] == "stdio"
    assert " by - via stdio: ok" in audit_on.records[0].getMessage()


async def test_api_key_callers_are_named_by_the_key_name(
    audit_on: pytest.LogCaptureFixture,
) -> None:
    bot = Principal("api_key", "ci-bot", scopes=frozenset({"vault:read"}))
    await Client(
        audited_engine(), caller=bot, principal=bot.key, transport="streamable_http"
    ).modern("tools/call", {"name": "public", "arguments": {}})
    [record] = records(audit_on)
    assert (record["principal"], record["principal_kind"]) == ("ci-bot", "api_key")


async def test_nothing_is_built_when_the_audit_logger_is_off(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger=AUDIT)
    audit = AuditLog()
    monkeypatch.setattr(audit, "_record", lambda *a: pytest.fail("built a record"))
    plain = vault_engine()
    client = Client(Engine(plain.catalog, plain.settings, interceptors=[audit]))
    reply = await client.modern("tools/call", {"name": "public", "arguments": {}})
    assert reply["result"]["content"][0]["text"] == "public"
    assert records(caplog) == []


class VaultConfig(BaseModel):
    password: SecretStr
    region: str = "eu"


def configured_vault() -> Plugin:
    plugin = Plugin("vault", config=VaultConfig)

    @plugin.tool()
    def store(
        name: str, value: str, api_key: str = "", options: dict[str, str] | None = None
    ) -> str:
        return "stored"

    @plugin.tool()
    def fail() -> str:
        raise ToolError("no")

    @plugin.prompt()
    def greet(name: str) -> str:
        return f"hi {name}"

    return plugin


async def test_arguments_are_logged_only_when_the_operator_opts_in_and_redacted(
    audit_on: pytest.LogCaptureFixture,
) -> None:
    config: dict[str, Any] = {"plugins": {"vault": {"config": {"password": "hunter2-pw"}}}}
    arguments = {
        "name": "x",
        "value": "my hunter2-pw here",  # the plugin's secret, inside another value
        "api_key": "sk-123456",  # a secret-looking key
        "options": {"token": "abcdef", "colour": "blue"},
    }
    async with serve(configured_vault(), config=config) as mcp:
        await mcp.call_tool("store", arguments)
    [record] = records(audit_on)
    assert "arguments" not in record
    assert record["transport"] == "in_process"
    audit_on.clear()
    config["plugins"]["vault"]["audit_arguments"] = True
    async with serve(configured_vault(), config=config) as mcp:
        await mcp.call_tool("store", arguments)
        await mcp.get_prompt("greet", {"name": "Ada"})
    store, greet = records(audit_on)
    assert store["arguments"] == {
        "name": "x",
        "value": "my *** here",
        "api_key": "***",
        "options": {"token": "***", "colour": "blue"},
    }
    assert greet["arguments"] == {"name": "Ada"}
    assert "hunter2" not in " ".join(r.getMessage() for r in audit_on.records)


async def test_the_test_kit_and_the_server_register_the_audit_log_only_when_enabled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=AUDIT)
    async with serve(
        configured_vault(), config={"plugins": {"vault": {"config": {"password": "p"}}}}
    ) as mcp:
        assert interceptors(mcp.host) == []
        assert mcp.engine.interceptors == ()
    caplog.set_level(logging.INFO, logger=AUDIT)
    async with serve(
        configured_vault(), config={"plugins": {"vault": {"config": {"password": "p"}}}}
    ) as mcp:
        assert [type(i).__name__ for i in mcp.engine.interceptors] == ["AuditLog"]


async def test_a_denied_call_through_the_test_kit_is_recorded(
    audit_on: pytest.LogCaptureFixture,
) -> None:
    plugin = Plugin("locked")

    @plugin.tool(scopes=["locked:use"])
    def use() -> str:
        return "used"

    anonymous = Principal("anonymous", "anonymous")
    async with serve(plugin, principal=anonymous) as mcp:
        with pytest.raises(RequestFailed):
            await mcp.call_tool("use")
    [record] = records(audit_on)
    assert (record["outcome"], record["principal"], record["principal_kind"]) == (
        "denied",
        "anonymous",
        "anonymous",
    )


def test_secret_values_walk_nested_models() -> None:
    class Inner(BaseModel):
        token: SecretStr

    class Outer(BaseModel):
        inner: Inner
        keys: list[SecretStr]
        short: SecretStr

    found = secret_values(
        Outer(inner=Inner(token="tok-1234"), keys=[SecretStr("key-5678")], short=SecretStr("ab")),
        also=["from-config", "xy"],
    )
    assert set(found) == {"tok-1234", "key-5678", "from-config"}


async def test_audit_log_false_registers_nothing(audit_on: pytest.LogCaptureFixture) -> None:
    config = {"host": {"audit_log": False}, "plugins": {"vault": {"config": {"password": "p"}}}}
    async with serve(configured_vault(), config=config) as mcp:
        assert mcp.engine.interceptors == ()
        await mcp.call_tool("fail")
    assert records(audit_on) == []


async def test_names_and_subjects_cannot_forge_a_second_line(
    audit_on: pytest.LogCaptureFixture,
) -> None:
    sneaky = Principal("oauth", "eve\naudit: tools/call x by root", "https://as.example/")
    client = Client(
        audited_engine(), caller=sneaky, principal=sneaky.key, transport="streamable_http"
    )
    await client.modern("tools/call", {"name": "nothing\r\naudit: forged", "arguments": {}})
    await client.modern("resources/read", {"uri": "vault://item/" + "x" * 5000})
    messages = [r.getMessage() for r in audit_on.records if r.name == AUDIT]
    assert all("\n" not in m and "\r" not in m for m in messages)
    assert "by eve\\naudit: tools/call x by root" in messages[0]
    first, second = records(audit_on)
    assert first["name"] == "nothing\r\naudit: forged"  # the field keeps it (JSON escapes it)
    assert first["principal"] == "eve\naudit: tools/call x by root"
    assert len(second["name"]) < 600
    assert second["name"].endswith("(5013 characters)")
