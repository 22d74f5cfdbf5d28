"""Hypothesis strategies for fuzzing the host: valid MCP messages of both eras, and mutations
of them (wrong types at every path, missing fields, huge numbers, deep nesting, unicode,
unhashable ids), plus input that is not a message at all (batches, non-object JSON, garbage).

A drawn input is the bytes of one line/body; ``expected_reply`` says what the host owes it.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import strategies as st
from pydantic_core import from_json

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
CLIENT_INFO = {"name": "fuzz", "version": "1"}
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
}

# Calls that answer at once with the first-party plugins, whatever their arguments become:
# nothing here waits for the client (as elicitation and sampling do on a legacy session) or
# sleeps for long (count_down refuses a delay above 1 s; a mutated one costs at most 2 s).
_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("ping", {}),
    ("tools/list", {}),
    ("tools/list", {"cursor": "bzoy"}),
    ("prompts/list", {}),
    ("resources/list", {}),
    ("resources/templates/list", {}),
    ("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}),
    ("tools/call", {"name": "test_simple_text", "arguments": {}}),
    ("tools/call", {"name": "test_error_handling"}),
    ("tools/call", {"name": "test_image_content", "arguments": {}}),
    (  # progress and log messages before the reply (an SSE answer over HTTP)
        "tools/call",
        {
            "name": "count_down",
            "arguments": {"start": 2, "delay": 0},
            "_meta": {"progressToken": 7},
        },
    ),
    ("tools/call", {"name": "greet", "arguments": {"name": "Ada"}}),
    ("resources/read", {"uri": "test://static-text"}),
    ("resources/read", {"uri": "test://template/42/data"}),
    ("resources/read", {"uri": "test://no-such-thing"}),
    ("prompts/get", {"name": "test_simple_prompt"}),
    (
        "prompts/get",
        {"name": "test_prompt_with_arguments", "arguments": {"arg1": "a", "arg2": "b"}},
    ),
    (
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "introduce"},
            "argument": {"name": "tone", "value": "f"},
            "context": {"arguments": {"name": "x"}},
        },
    ),
    (
        "completion/complete",
        {
            "ref": {"type": "ref/resource", "uri": "note://{name}"},
            "argument": {"name": "name", "value": ""},
        },
    ),
]
_LEGACY_ONLY: list[tuple[str, dict[str, Any]]] = [
    ("logging/setLevel", {"level": "error"}),
    ("resources/subscribe", {"uri": "test://static-text"}),
    ("resources/unsubscribe", {"uri": "test://static-text"}),
    ("initialize", {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": CLIENT_INFO}),
]
_MODERN_ONLY: list[tuple[str, dict[str, Any]]] = [
    ("server/discover", {}),
    ("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}, "requestState": "x.y"}),
    ("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}, "inputResponses": {}}),
]
_NOTIFICATIONS: list[tuple[str, dict[str, Any]]] = [
    ("notifications/cancelled", {"requestId": 1, "reason": "fuzz"}),
    ("notifications/progress", {"progressToken": "p", "progress": 1, "total": 2}),
    ("notifications/initialized", {}),
    ("notifications/roots/list_changed", {}),
]
_RESPONSES: list[dict[str, Any]] = [
    {"jsonrpc": "2.0", "id": "mcp-host-1", "result": {}},
    {"jsonrpc": "2.0", "id": 3, "error": {"code": -32601, "message": "no"}},
]


def templates(era: str) -> list[dict[str, Any]]:
    """Valid messages of ``era`` (ids are placeholders, numbered when drawn)."""
    calls = _CALLS + (_MODERN_ONLY if era == "modern" else _LEGACY_ONLY)
    out: list[dict[str, Any]] = []
    for method, params in calls:
        if era == "modern":
            params = {**params, "_meta": {**META, **params.get("_meta", {})}}
        out.append({"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
    for method, params in _NOTIFICATIONS:
        out.append({"jsonrpc": "2.0", "method": method, "params": params})
    out.extend(_RESPONSES)
    return out


def _nested(depth: int) -> Any:
    value: Any = 0
    for level in range(depth):
        value = [value] if level % 2 else {"d": value}
    return value


NASTY_SCALARS = [
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**63,
    -(2**63) - 1,
    10**40,
    1.5,
    -0.0,
    1e308,
    "",
    " ",
    "\x00",
    "\u202e\u200b",
    "\U0001f600" * 3,
    "é" * 50,
    "x" * 70_000,
    "2.0",
    "1",
    "ping",
    "tools/call",
    "notifications/cancelled",
    "ref/prompt",
    "../../etc/passwd",
]

scalars = st.one_of(
    st.sampled_from(NASTY_SCALARS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
values: st.SearchStrategy[Any] = st.one_of(
    scalars,
    st.sampled_from([{}, [], [[]], [{}], {"": {}}, {"a": []}]),
    st.integers(min_value=1, max_value=400).map(_nested),
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
)
"""Values of every JSON type that can land where a field belongs."""


def _slots(message: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) in a message tree, the message's own keys included."""
    if isinstance(message, dict):
        for key, value in message.items():
            yield message, key
            yield from _slots(value)
    elif isinstance(message, list):
        for index, value in enumerate(message):
            yield message, index
            yield from _slots(value)


Mutation = tuple[str, int, Any]
"""(operation, which slot (an index taken modulo the message's slots), value)."""

mutations: st.SearchStrategy[list[Mutation]] = st.lists(
    st.tuples(
        st.sampled_from(("replace", "replace", "delete", "add")),
        st.integers(min_value=0, max_value=10**6),
        values,
    ),
    min_size=1,
    max_size=3,
)


def mutate(message: dict[str, Any], plan: list[Mutation]) -> Any:
    """A copy of ``message`` with ``plan`` applied: each mutation picks a slot of the tree
    (a key of an object, an index of an array) and replaces, deletes or adds a value."""
    out: Any = copy.deepcopy(message)
    for operation, where, value in plan:
        slots = list(_slots(out))
        if not slots:
            break
        container, key = slots[where % len(slots)]
        value = copy.deepcopy(value)
        if operation == "replace":
            container[key] = value
        elif operation == "delete":
            del container[key]
        elif isinstance(container, dict):
            extra = ("id", "params", "result", "error", "method", "x")
            container[extra[where % len(extra)]] = value
        else:
            container.append(value)
    return out


def encode(message: Any) -> bytes:
    return json.dumps(message, ensure_ascii=False, allow_nan=False).encode()


_JSONISH = st.sampled_from(
    [
        b"null",
        b"true",
        b"1",
        b"-0",
        b'"str"',
        b"[]",
        b"{}",
        b"[1, 2]",
        b"1e400",
        b"NaN",
        b"-Infinity",
    ]
)


@st.composite
def raw_input(draw: st.DrawFn, base: list[dict[str, Any]]) -> bytes:
    """Bytes that are not one well-shaped message: batches, non-object JSON, truncated JSON,
    invalid UTF-8, garbage."""
    choice = draw(st.integers(min_value=0, max_value=5))
    if choice == 0:
        picked = draw(st.lists(st.sampled_from(base), max_size=3))
        return encode([mutate(m, draw(mutations)) for m in picked])
    if choice == 1:
        return draw(_JSONISH)
    whole = encode(mutate(draw(st.sampled_from(base)), draw(mutations)))
    if choice == 2:
        return whole[: draw(st.integers(min_value=1, max_value=max(1, len(whole) - 1)))]
    if choice == 3:
        cut = draw(st.integers(min_value=0, max_value=len(whole)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
        return whole[:cut] + bad + whole[cut:]
    if choice == 4:
        return b"{" * draw(st.integers(min_value=1, max_value=5000))
    return b"{" + draw(st.binary(min_size=1, max_size=48))


Plan = tuple[list[list[Mutation]], list[bytes]]

MUTATIONS_PER_EXAMPLE = 12
RAW_PER_EXAMPLE = 8


def plans(
    mutated: int = MUTATIONS_PER_EXAMPLE, raw: int = RAW_PER_EXAMPLE
) -> st.SearchStrategy[Plan]:
    """One Hypothesis example: ``mutated`` mutation plans (the test applies each one to every
    valid message of its era) and ``raw`` inputs that are not messages. Many inputs per
    example keeps the volume cheap: most of the cost of a draw is Hypothesis's own."""
    return st.tuples(
        st.lists(mutations, min_size=mutated, max_size=mutated),
        st.lists(raw_input(templates("legacy")), min_size=raw, max_size=raw),
    )


class Batch:
    """The inputs of one example, with fresh ids, and what the host owes each of them."""

    _numbers = iter(range(1, 1 << 62))

    def __init__(self, era: str, plan: Plan) -> None:
        mutated, raw = plan
        base = templates(era)
        self.inputs: list[bytes] = []
        for mutation in [[], *mutated]:
            for message in base:
                if "id" in message and "method" in message:
                    message = {**message, "id": self.fresh_id()}
                self.inputs.append(encode(mutate(message, mutation) if mutation else message))
        self.inputs.extend(raw)

    @classmethod
    def fresh_id(cls) -> str | int:
        """Ids no other batch uses: a late or repeated reply cannot pass for another's."""
        number = next(cls._numbers)
        return number if number % 2 else f"fz-{number}"


# ---------------------------------------------------------------------------- the oracle

NONE = "none"
"""Owed nothing (a notification or a response)."""
NULL = "null"
"""Owed one error reply whose id is null (the message's id could not be read)."""


def reply_key(request_id: Any) -> str:
    return NULL if request_id is None else json.dumps(request_id)


def owed(data: bytes) -> str:
    """What the host owes one input: ``NONE``, ``NULL``, or the key of the id its one reply
    must carry (``reply_key``). Parsed as the host parses (no NaN or Infinity)."""
    try:
        message = from_json(data, allow_inf_nan=False)
    except ValueError:
        return NULL
    if not isinstance(message, dict):
        return NULL
    if "method" not in message and ("result" in message or "error" in message):
        return NONE  # a response: never answered, a malformed one is logged and dropped
    if "id" in message:
        request_id = message["id"]
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            return reply_key(request_id)
        return NULL
    if message.get("jsonrpc") == "2.0" and isinstance(message.get("method"), str):
        return NONE  # a notification: never answered, a malformed one is dropped
    return NULL


def cancels(data: bytes) -> str | None:
    """The key of the request a well-formed ``notifications/cancelled`` names: that request
    may go unanswered (the protocol lets a cancelled request end without a response)."""
    try:
        message = from_json(data, allow_inf_nan=False)
    except ValueError:
        return None
    if not (
        isinstance(message, dict)
        and message.get("method") == "notifications/cancelled"
        and message.get("jsonrpc") == "2.0"
        and "id" not in message
        and isinstance(message.get("params"), dict)
    ):
        return None
    request_id = message["params"].get("requestId")
    if isinstance(request_id, str | int) and not isinstance(request_id, bool):
        return reply_key(request_id)
    return None


class Ledger:
    """What a batch is owed, and the replies that came: every owed reply exactly once, except
    that a request named by a cancellation may stay unanswered (and its reply, when it comes,
    may come late: such ids stay tolerated for the rest of the run)."""

    tolerated: set[str] = set()

    def __init__(self, inputs: list[bytes]) -> None:
        self.inputs = inputs
        self.expected = Counter(key for key in map(owed, inputs) if key != NONE)
        self.cancelled = {key for key in map(cancels, inputs) if key is not None}
        Ledger.tolerated |= self.cancelled
        self.got: Counter[str] = Counter()

    def record(self, raw: bytes, key: str) -> None:
        self.got[key] += 1
        if self.got[key] > self.expected[key] and key not in Ledger.tolerated:
            culprits = [data[:300] for data in self.inputs if owed(data) == key]
            raise AssertionError(f"an unowed or second reply {raw[:300]!r}; inputs: {culprits}")

    @property
    def settled(self) -> bool:
        return all(
            self.got[key] >= count
            for key, count in self.expected.items()
            if key not in self.cancelled
        )

    def missing(self) -> str:
        missing = {
            key: count - self.got[key]
            for key, count in self.expected.items()
            if self.got[key] < count and key not in self.cancelled
        }
        culprits = [data[:300] for data in self.inputs if owed(data) in missing]
        return f"no reply for {missing}; inputs: {culprits[:10]}"


TRACEBACK = re.compile(rb'Traceback \(most recent call last\)|File "[^"]*", line \d+')


def check_reply(raw: bytes) -> dict[str, Any]:
    """A reply's JSON, after checking it is well formed, carries no traceback and does not
    blame the server (-32603) for a client's input."""
    assert not TRACEBACK.search(raw), raw[:400]
    reply = json.loads(raw)
    assert isinstance(reply, dict), raw[:400]
    assert reply.get("jsonrpc") == "2.0", raw[:400]
    assert "id" in reply, raw[:400]
    assert reply["id"] is None or (
        isinstance(reply["id"], str | int) and not isinstance(reply["id"], bool)
    ), raw[:400]
    assert ("result" in reply) != ("error" in reply), raw[:400]
    if "error" in reply:
        error = reply["error"]
        assert isinstance(error, dict), raw[:400]
        assert isinstance(error.get("code"), int), raw[:400]
        assert isinstance(error.get("message"), str), raw[:400]
        assert error["message"], raw[:400]
        assert error["code"] != -32603, raw[:400]
    else:
        assert isinstance(reply["result"], dict), raw[:400]
    return reply


def sentinel(era: str) -> tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]:
    """A valid call, and whether its reply is the right answer: after every batch."""
    params: dict[str, Any] = {"name": "add", "arguments": {"a": 2, "b": 3}}
    if era == "modern":
        params["_meta"] = META
    message = {"jsonrpc": "2.0", "id": Batch.fresh_id(), "method": "tools/call", "params": params}

    def right(reply: dict[str, Any]) -> bool:
        result = reply.get("result") or {}
        return result.get("structuredContent") == {"result": 5.0} and not result.get("isError")

    return message, right
