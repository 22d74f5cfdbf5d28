"""Shutdown loses no answer: a real ``mcp-host serve`` (stdio and HTTP) stopped by end of
input, SIGTERM or SIGINT with calls in flight answers every one of them, exits the lifespans
in reverse order and exits 0."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.messages import INIT

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ["shutdown-first", "shutdown-second"]
LIFESPANS = [
    "enter shutdown-first",
    "enter shutdown-second",
    "exit shutdown-second",
    "exit shutdown-first",
]
SHUTTING_DOWN = -32000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Installed metadata advertising tests/shutdown_plugins.py through ``mcp.plugins``."""
    site = tmp_path_factory.mktemp("site")
    info = site / "mcp_host_shutdown_tests-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mcp-host-shutdown-tests\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[mcp.plugins]\n"
        + "".join(f"{name} = tests.shutdown_plugins:{name[9:]}\n" for name in PLUGINS)
    )
    return site


class Server:
    """A real ``mcp-host serve`` with the shutdown test plugins."""

    def __init__(self, site: Path, tmp_path: Path, *args: str, **env: str) -> None:
        self.log = tmp_path / "events.log"
        self.log.touch()
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("MCP_HOST_")
        }
        environment.update(
            PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]),
            MCP_TEST_SHUTDOWN_LOG=str(self.log),
            **env,
        )
        plugins = [arg for name in PLUGINS for arg in ("--plugin", name)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_host", "serve", *plugins, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            cwd=tmp_path,
        )

    def events(self) -> list[str]:
        return self.log.read_text().split("\n")[:-1]

    def wait_for_starts(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while sum(e.startswith("start ") for e in self.events()) < count:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"only {self.events()} after {timeout} s"
            time.sleep(0.02)

    def finish(self, timeout: float = 20) -> tuple[bytes, bytes]:
        """stdout and stderr until the process exits, stdin left open until then (closing it
        at once, as ``communicate`` does, would be end of input: a second reason to stop)."""
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        try:
            assert self.proc.stdout is not None
            assert self.proc.stderr is not None
            out = self.proc.stdout.read()
            err = self.proc.stderr.read()
            self.proc.wait()
        finally:
            watchdog.cancel()
        assert self.proc.returncode != -signal.SIGKILL, f"still running after {timeout} s"
        return out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def serve(site: Path, tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def start(*args: str, **env: str) -> Server:
        servers.append(Server(site, tmp_path, *args, **env))
        return servers[-1]

    yield start
    for server in servers:
        server.kill()


def call(request_id: int | str, tool: str, seconds: float) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": {"seconds": seconds, "label": str(request_id)}},
    }
    return json.dumps(message).encode() + b"\n"


def handshake(server: Server) -> None:
    stdin, stdout = server.proc.stdin, server.proc.stdout
    assert stdin is not None
    assert stdout is not None
    stdin.write(json.dumps(INIT).encode() + b"\n")
    stdin.flush()
    assert json.loads(stdout.readline())["id"] == 1
    stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')


def answers(out: bytes) -> dict[Any, dict[str, Any]]:
    """Every stdout line is one JSON-RPC answer; no id is answered twice."""
    replies = [json.loads(line) for line in out.splitlines()]
    ids = [reply["id"] for reply in replies]
    assert len(ids) == len(set(ids)), "an id was answered twice"
    return {reply["id"]: reply for reply in replies}


def assert_shutting_down(reply: dict[str, Any], *words: str) -> None:
    assert "result" not in reply, reply
    assert reply["error"]["code"] == SHUTTING_DOWN, reply
    message = reply["error"]["message"]
    assert message.startswith("Server shutting down: "), message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("ending", ["SIGTERM", "SIGINT", "end of input"])
def test_stdio_answers_all_50_calls_in_flight(serve: Any, ending: str) -> None:
    server = serve("--shutdown-grace", "1")
    handshake(server)
    assert server.proc.stdin is not None
    # 25 calls well within the grace, 25 far beyond it; async and thread-bound handlers.
    short = dict.fromkeys(range(0, 50, 2), 0.2)
    long = dict.fromkeys(range(1, 50, 2), 30.0)
    for request_id, seconds in sorted({**short, **long}.items()):
        server.proc.stdin.write(
            call(request_id + 2, "nap" if request_id % 4 < 2 else "doze", seconds)
        )
    server.proc.stdin.flush()
    server.wait_for_starts(50)
    if ending == "end of input":
        server.proc.stdin.close()
    else:
        server.proc.send_signal(getattr(signal, ending))
    out, err = server.finish()
    assert server.proc.returncode == 0, err.decode()
    by_id = answers(out)
    assert sorted(by_id) == list(range(2, 52))
    for request_id in short:
        result = by_id[request_id + 2]["result"]
        assert not result.get("isError"), result
        assert result["content"][0]["text"].endswith(" 0.2")
    for request_id in long:
        assert_shutting_down(by_id[request_id + 2], "1 s shutdown grace", "[host] shutdown_grace")
    assert [e for e in server.events() if not e.startswith("start ")] == LIFESPANS


def test_stdio_a_second_signal_ends_the_grace_and_still_answers_everything(serve: Any) -> None:
    server = serve("--shutdown-grace", "600")
    handshake(server)
    stdin, stdout, stderr = server.proc.stdin, server.proc.stdout, server.proc.stderr
    assert stdin is not None
    assert stdout is not None
    assert stderr is not None
    for request_id in range(2, 12):
        stdin.write(call(request_id, "nap", 600))
    stdin.flush()
    server.wait_for_starts(10)
    server.proc.send_signal(signal.SIGTERM)
    assert "received SIGTERM, shutting down" in stderr.readline().decode()
    # After the signal no new request is taken: it is answered at once.
    stdin.write(call("late", "nap", 0))
    stdin.flush()
    late = json.loads(stdout.readline())
    assert late["id"] == "late"
    assert_shutting_down(late, "not taking new requests")
    assert server.events().count("start late") == 0
    # A second signal (of the other kind) ends the 600 s grace now.
    server.proc.send_signal(signal.SIGINT)
    out, err = server.finish()
    assert server.proc.returncode == 0, err.decode()
    by_id = answers(out)
    assert sorted(by_id) == list(range(2, 12))
    for reply in by_id.values():
        assert_shutting_down(reply, "second signal")
    assert b"ending the shutdown grace now" in err
    assert [e for e in server.events() if not e.startswith("start ")] == LIFESPANS


def test_stdio_signals_while_lifespans_exit_do_not_cut_them_short(serve: Any) -> None:
    server = serve("--shutdown-grace", "1")
    handshake(server)
    assert server.proc.stdin is not None
    server.proc.stdin.write(call(2, "nap", 0.5))
    server.proc.stdin.flush()
    server.wait_for_starts(1)
    for _ in range(5):  # a storm of signals: the first starts the shutdown
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
    out, err = server.finish()
    assert server.proc.returncode == 0, err.decode()
    assert list(answers(out)) == [2]
    assert [e for e in server.events() if not e.startswith("start ")] == LIFESPANS


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_stdio_a_signal_during_start_up_stops_it(serve: Any, name: str) -> None:
    server = serve(MCP_TEST_SHUTDOWN_SLOW_START="600")
    deadline = time.monotonic() + 20
    while "enter shutdown-second" not in server.events():
        assert time.monotonic() < deadline, server.events()
        time.sleep(0.02)
    server.proc.send_signal(getattr(signal, name))
    out, err = server.finish()
    assert server.proc.returncode == 0, err.decode()
    assert out == b""
    # The lifespan that had started is exited; the one cut while starting never ran.
    assert server.events() == [
        "enter shutdown-first",
        "enter shutdown-second",
        "exit shutdown-first",
    ]


def test_stdio_end_of_input_with_nothing_in_flight_exits_at_once(serve: Any) -> None:
    server = serve("--shutdown-grace", "600")
    handshake(server)
    assert server.proc.stdin is not None
    server.proc.stdin.write(call(2, "nap", 0))
    out, err = server.proc.communicate(timeout=20)  # closes stdin; far below the grace
    assert server.proc.returncode == 0, err.decode()
    assert answers(out)[2]["result"]["content"][0]["text"] == "2 slept 0.0"
    assert server.events() == [
        "enter shutdown-first",
        "enter shutdown-second",
        "start 2",
        "exit shutdown-second",
        "exit shutdown-first",
    ]


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
ACCEPT = "application/json, text/event-stream"


def nap_call(request_id: int, seconds: float, meta: dict[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "name": "nap",
        "arguments": {"seconds": seconds, "label": str(request_id)},
    }
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def modern_call(url: str, request_id: int, seconds: float) -> httpx.Response:
    headers = {
        "accept": ACCEPT,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "nap",
    }
    return httpx.post(
        url, json=nap_call(request_id, seconds, MODERN_META), headers=headers, timeout=60
    )


def legacy_session(url: str) -> dict[str, str]:
    response = httpx.post(url, json=INIT, headers={"accept": ACCEPT}, timeout=10)
    assert response.status_code == 200
    headers = {
        "accept": ACCEPT,
        "mcp-session-id": response.headers["mcp-session-id"],
        "mcp-protocol-version": "2025-11-25",
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert httpx.post(url, json=initialized, headers=headers, timeout=10).status_code == 202
    return headers


def legacy_call(
    url: str, headers: dict[str, str], request_id: int, seconds: float
) -> httpx.Response:
    return httpx.post(url, json=nap_call(request_id, seconds, None), headers=headers, timeout=60)


def reply_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC reply in a JSON body or in the last event of an SSE body."""
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])  # type: ignore[no-any-return]
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("signals", "grace"), [(["SIGTERM"], 1.0), (["SIGINT"], 1.0), (["SIGTERM", "SIGINT"], 600.0)]
)
def test_http_answers_every_request_in_flight(serve: Any, signals: list[str], grace: float) -> None:
    server = serve("--transport", "http", "--shutdown-grace", str(grace), MCP_HOST_HTTP_PORT="0")
    assert server.proc.stderr is not None
    line = server.proc.stderr.readline().decode()
    found = re.search(r"serving (http://\S+)", line)
    assert found, line
    url = found.group(1)
    session = legacy_session(url)
    # 2026-07-28 requests and requests of a legacy session, half of them shorter than the
    # grace (when there is one to speak of).
    calls = {i: 0.2 if i % 2 == 0 and grace < 600 else 600.0 for i in range(24)}
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {
            i: pool.submit(modern_call, url, i, s)
            if i < 16
            else pool.submit(legacy_call, url, session, i, s)
            for i, s in calls.items()
        }
        server.wait_for_starts(len(calls))
        signalled = time.monotonic()
        for name in signals:
            server.proc.send_signal(getattr(signal, name))
            time.sleep(0.2)
        responses = {i: future.result(timeout=30) for i, future in futures.items()}
        answered = time.monotonic()
    _, err = server.finish()
    assert server.proc.returncode == 0, err.decode()
    # Every request got an HTTP response within the grace (or at the second signal) plus a
    # margin, long before its handler would have finished.
    assert answered - signalled < min(grace, 1.0) + 10
    for request_id, seconds in calls.items():
        response = responses[request_id]
        reply = reply_of(response)
        assert reply["id"] == request_id
        # Nothing was streamed before the answer, so each is JSON: a request cut by the
        # shutdown gets 503, the others 200.
        assert response.headers["content-type"] == "application/json"
        assert response.status_code == (503 if seconds >= grace else 200), response.text
        if seconds < grace:
            assert reply["result"]["content"][0]["text"] == f"{request_id} slept 0.2"
        elif len(signals) == 1:
            assert_shutting_down(reply, f"{grace:g} s shutdown grace")
        else:
            assert_shutting_down(reply, "second signal")
    assert [e for e in server.events() if not e.startswith("start ")] == LIFESPANS


def test_http_sse_answers_requests_in_flight_on_the_stream(serve: Any) -> None:
    """HTTP+SSE (2024-11-05): answers travel on the GET stream, which stays open until the
    requests in flight are answered."""
    server = serve("--transport", "sse", "--shutdown-grace", "1", MCP_HOST_HTTP_PORT="0")
    assert server.proc.stderr is not None
    line = server.proc.stderr.readline().decode()
    found = re.search(r"serving (http://\S+)", line)
    assert found, line
    sse_url = found.group(1)
    with (
        httpx.Client(timeout=30) as reader,
        httpx.Client(timeout=30) as poster,
        reader.stream("GET", sse_url, headers={"accept": "text/event-stream"}) as stream,
    ):
        data = (line[5:].strip() for line in stream.iter_lines() if line.startswith("data:"))
        messages_url = httpx.URL(sse_url).join(next(data))  # the endpoint event

        def post(message: dict[str, Any]) -> None:
            assert poster.post(messages_url, json=message).status_code == 202

        post(INIT)
        assert json.loads(next(data))["id"] == 1
        post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        post(nap_call(2, 0.2, None))
        post(nap_call(3, 600, None))
        server.wait_for_starts(2)
        server.proc.send_signal(signal.SIGTERM)
        replies = {reply["id"]: reply for reply in map(json.loads, data)}  # until the end
    _, err = server.finish()
    assert server.proc.returncode == 0, err.decode()
    assert replies[2]["result"]["content"][0]["text"] == "2 slept 0.2"
    assert_shutting_down(replies[3], "1 s shutdown grace")
    assert sorted(replies) == [2, 3]
    assert [e for e in server.events() if not e.startswith("start ")] == LIFESPANS


def test_http_listen_ends_with_its_result_instead_of_holding_the_grace(serve: Any) -> None:
    server = serve("--transport", "http", "--shutdown-grace", "600", MCP_HOST_HTTP_PORT="0")
    assert server.proc.stderr is not None
    line = server.proc.stderr.readline().decode()
    found = re.search(r"serving (http://\S+)", line)
    assert found, line
    body = {
        "jsonrpc": "2.0",
        "id": "listen",
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": MODERN_META},
    }
    headers = {
        "accept": ACCEPT,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "subscriptions/listen",
    }
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", found.group(1), json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        data = (line[5:].strip() for line in response.iter_lines() if line.startswith("data:"))
        acknowledged = json.loads(next(data))
        assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
        server.proc.send_signal(signal.SIGTERM)
        watchdog = threading.Timer(20, server.proc.kill)  # rather than hang for the grace
        watchdog.start()
        try:
            rest = [json.loads(item) for item in data]  # the stream ends
        except httpx.HTTPError:
            rest = []
        finally:
            watchdog.cancel()
    _, err = server.finish()  # far below the 600 s grace
    assert server.proc.returncode == 0, err.decode()
    assert rest[-1]["id"] == "listen"
    assert "result" in rest[-1], rest
