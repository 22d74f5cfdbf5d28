"""JSON-RPC 2.0 framing: error codes, parsing, and building messages as bytes."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json

from mcp_host.errors import MISSING_CLIENT_CAPABILITY as MISSING_CLIENT_CAPABILITY
from mcp_host.errors import ProtocolError

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
UNSUPPORTED_PROTOCOL_VERSION = -32022

RequestId = str | int


class MessageError(ProtocolError):
    """An incoming message that cannot be handled (not JSON, not a JSON-RPC message);
    answered with ``code``, and ``request_id`` when the message had one."""

    def __init__(self, code: int, message: str, request_id: RequestId | None = None) -> None:
        super().__init__(code, message)
        self.request_id = request_id


class InvalidResponse(MessageError):
    """A malformed response from the client. Nobody waits for an answer to a response: a
    transport that must answer something (HTTP) says why it was refused, others log it and
    drop it."""

    def __init__(self, message: str) -> None:
        super().__init__(INVALID_REQUEST, message)


def parse(data: bytes | str) -> Any:
    try:
        # NaN and Infinity are not JSON: refused, so they are never echoed back as such.
        return from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        raise MessageError(
            PARSE_ERROR, f"Parse error: the message is not valid JSON ({exc})"
        ) from exc


def dumps(message: Any) -> bytes:
    # A number too large for a float (1e400) parses as infinity; JSON has no way to say it.
    return to_json(message, inf_nan_mode="null")


def valid_id(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def kind(message: Any) -> str:
    """``request``, ``notification`` or ``response``, once the message has the shape of one;
    raises ``MessageError`` otherwise (``InvalidResponse`` for a malformed response).

    A request's ``id`` is a string or an integer and its ``params`` an object when present
    (an array is -32602: MCP names every parameter). A notification's params are checked by
    the connection, which drops a bad one: a notification is never answered. Nothing here
    hashes a value the client chose, so an object where an id belongs cannot reach a dict
    lookup."""
    if not isinstance(message, dict):
        if isinstance(message, list):
            raise MessageError(
                INVALID_REQUEST,
                "Invalid request: JSON-RPC batches are not supported; send one message at a time",
            )
        raise MessageError(
            INVALID_REQUEST,
            f"Invalid request: a message must be a JSON object; got {_kind_of(message)}",
        )
    if "method" not in message and ("result" in message or "error" in message):
        _check_response(message)
        return "response"
    request_id = message.get("id")
    rid = request_id if valid_id(request_id) else None
    if message.get("jsonrpc") != "2.0":
        raise MessageError(INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"', rid)
    if "method" not in message:
        raise MessageError(
            INVALID_REQUEST,
            "Invalid request: neither a request (method and id), a notification (method) nor a "
            "response (id and result or error)",
            rid,
        )
    method = message["method"]
    if not isinstance(method, str):
        raise MessageError(
            INVALID_REQUEST,
            f'Invalid request: "method" must be a string; got {_kind_of(method)}',
            rid,
        )
    if "id" not in message:
        return "notification"
    if rid is None:
        raise MessageError(
            INVALID_REQUEST,
            'Invalid request: "id" must be a string or an integer (not null); got '
            f"{_kind_of(request_id)}",
        )
    params = message.get("params")
    if params is not None and not isinstance(params, dict):
        if isinstance(params, list):
            raise MessageError(
                INVALID_PARAMS,
                'Invalid params: "params" must be an object of named parameters; MCP does '
                "not use positional (array) params",
                rid,
            )
        raise MessageError(
            INVALID_REQUEST,
            f'Invalid request: "params" must be an object; got {_kind_of(params)}',
            rid,
        )
    return "request"


def _check_response(message: dict[str, Any]) -> None:
    request_id = message.get("id")
    if message.get("jsonrpc") != "2.0":
        raise InvalidResponse('Invalid response: "jsonrpc" must be "2.0"')
    if "id" not in message:
        raise InvalidResponse('Invalid response: "id" is required (null when unknown)')
    if "result" in message and "error" in message:
        raise InvalidResponse('Invalid response: it has both "result" and "error"')
    if "error" in message:
        error = message["error"]
        if not isinstance(error, dict):
            raise InvalidResponse(
                f'Invalid response: "error" must be an object; got {_kind_of(error)}'
            )
        code = error.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            raise InvalidResponse(
                f'Invalid response: "error.code" must be an integer; got {_kind_of(code)}'
            )
        if not isinstance(error.get("message"), str):
            raise InvalidResponse(
                'Invalid response: "error.message" must be a string; got '
                f"{_kind_of(error.get('message'))}"
            )
        if request_id is None:  # a client that could not read the server's message says so
            return
    elif not isinstance(message["result"], dict):
        raise InvalidResponse(
            f'Invalid response: "result" must be an object; got {_kind_of(message["result"])}'
        )
    if not valid_id(request_id):
        raise InvalidResponse(
            'Invalid response: "id" must be the string or integer id of the server\'s '
            f"request; got {_kind_of(request_id)}"
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
