"""JSON-RPC 2.0 framing: error codes, parsing, and building messages as bytes."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Implementation-defined (JSON-RPC's server-error range): the request was not and will not be
# handled because the server is stopping. A server condition, not a client mistake; the
# official SDKs use the same code for a closed connection, so clients retry elsewhere.
SERVER_SHUTTING_DOWN = -32000
RESOURCE_NOT_FOUND_LEGACY = -32002
HEADER_MISMATCH = -32020
MISSING_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022

RequestId = str | int


class MessageError(Exception):
    """An incoming message that cannot be handled; answered with ``code``."""

    def __init__(self, code: int, message: str, request_id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def parse(data: bytes | str) -> Any:
    try:
        return from_json(data)
    except ValueError as exc:
        raise MessageError(
            PARSE_ERROR, f"Parse error: the message is not valid JSON ({exc})"
        ) from exc


def dumps(message: Any) -> bytes:
    return to_json(message)


def valid_id(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def kind(message: Any) -> str:
    """``request``, ``notification`` or ``response``; raises ``MessageError`` for anything else."""
    if not isinstance(message, dict):
        if isinstance(message, list):
            raise MessageError(
                INVALID_REQUEST,
                "Invalid request: JSON-RPC batches are not supported; send one message at a time",
            )
        raise MessageError(INVALID_REQUEST, "Invalid request: a message must be a JSON object")
    request_id = message.get("id")
    rid = request_id if valid_id(request_id) else None
    if message.get("jsonrpc") != "2.0":
        raise MessageError(INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"', rid)
    if "method" in message:
        if not isinstance(message["method"], str):
            raise MessageError(INVALID_REQUEST, 'Invalid request: "method" must be a string', rid)
        params = message.get("params")
        if params is not None and not isinstance(params, dict):
            raise MessageError(INVALID_REQUEST, 'Invalid request: "params" must be an object', rid)
        if "id" not in message:
            return "notification"
        if not valid_id(request_id):
            raise MessageError(
                INVALID_REQUEST, 'Invalid request: "id" must be a string or an integer (not null)'
            )
        return "request"
    if "id" in message and ("result" in message or "error" in message):
        return "response"
    raise MessageError(
        INVALID_REQUEST, "Invalid request: neither a request, a notification nor a response", rid
    )


def result_bytes(request_id: RequestId, result: Any) -> bytes:
    return dumps({"jsonrpc": "2.0", "id": request_id, "result": result})


def raw_result_bytes(request_id: RequestId, raw_result: bytes) -> bytes:
    """A response around an already serialized result (pre-serialized list pages)."""
    return b'{"jsonrpc":"2.0","id":' + dumps(request_id) + b',"result":' + raw_result + b"}"


def error_bytes(request_id: RequestId | None, code: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return dumps({"jsonrpc": "2.0", "id": request_id, "error": error})


def notification_bytes(method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return dumps(message)


def request_bytes(request_id: RequestId, method: str, params: dict[str, Any]) -> bytes:
    return dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
