"""2026-07-28 over HTTP: a sealed ``requestState`` is bound to the caller's credential.

A state issued to one ``Authorization`` credential is refused (400, with a sentence) when it
comes back with another credential or with none, and the legitimate retry still works.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest

from mcp_host.config import HttpSettings
from mcp_host.transports.http import create_app
from tests.protocol.conftest import Probe, build_engine, demo_plugin

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
BASE = "http://127.0.0.1:8000"
ANSWER = {"q0": {"action": "accept", "content": {"name": "Ada"}}}


def _call(params: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    }
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {**params, "_meta": meta}}


async def _post(
    client: httpx.AsyncClient, params: dict[str, Any], authorization: str | None
) -> httpx.Response:
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": "ask_name",
    }
    if authorization is not None:
        headers["authorization"] = authorization
    return await client.post("/mcp", json=_call(params), headers=headers)


@pytest.fixture
async def client() -> Any:
    app = create_app(build_engine(demo_plugin(Probe())), HttpSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


async def _issued_state(client: httpx.AsyncClient, authorization: str | None) -> str:
    first = await _post(client, {"name": "ask_name"}, authorization)
    assert first.status_code == 200
    result = first.json()["result"]
    assert result["resultType"] == "input_required"
    state = result["requestState"]
    assert isinstance(state, str)
    return state


def _retry(state: str) -> dict[str, Any]:
    return {"name": "ask_name", "inputResponses": ANSWER, "requestState": state}


@pytest.mark.parametrize("other", ["Bearer mallory", None, "bearer alice", "Bearer alice "])
async def test_a_state_replayed_by_another_caller_is_refused(
    client: httpx.AsyncClient, other: str | None
) -> None:
    state = await _issued_state(client, "Bearer alice")
    replay = await _post(client, _retry(state), other)
    assert replay.status_code == 400
    body = replay.json()
    assert body["id"] == 7
    assert body["error"]["code"] == -32602
    assert "issued to a different caller" in body["error"]["message"]
    assert "without requestState" in body["error"]["message"]
    # The legitimate caller's retry still works, after the replay was refused.
    legit = await _post(client, _retry(state), "Bearer alice")
    assert legit.status_code == 200
    assert legit.json()["result"]["content"][0]["text"] == "hello Ada"


async def test_a_state_issued_without_credential_is_refused_with_one(
    client: httpx.AsyncClient,
) -> None:
    state = await _issued_state(client, None)
    replay = await _post(client, _retry(state), "Bearer alice")
    assert replay.status_code == 400
    assert "issued to a different caller" in replay.json()["error"]["message"]
    legit = await _post(client, _retry(state), None)
    assert legit.json()["result"]["content"][0]["text"] == "hello Ada"


async def test_the_state_does_not_carry_the_credential(client: httpx.AsyncClient) -> None:
    secret = "Bearer sk-very-secret-token"
    state = await _issued_state(client, secret)
    payload_text = state.split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(payload_text + "=" * (-len(payload_text) % 4)))
    recorded = json.dumps(payload)
    assert "sk-very-secret-token" not in recorded
    assert hashlib.sha256(secret.encode()).hexdigest() not in recorded  # not even its digest
    assert payload["p"]  # but a tag of the caller is recorded
