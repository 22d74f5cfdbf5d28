"""The params checks: the fast yes/no and the worded explanation always agree."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_host.protocol.params import NOTIFICATIONS, REQUESTS, Check
from mcp_host.protocol.versions import META_CAPABILITIES, META_LOG_LEVEL, META_VERSION

SPECS: dict[str, Check] = {**REQUESTS, **NOTIFICATIONS}

# Values shaped like params: the field names the specs use, with values of every JSON kind.
NAMES = st.sampled_from(
    [
        "name",
        "uri",
        "arguments",
        "cursor",
        "level",
        "ref",
        "argument",
        "value",
        "type",
        "context",
        "notifications",
        "resourceSubscriptions",
        "toolsListChanged",
        "requestId",
        "progressToken",
        "progress",
        "total",
        "message",
        "reason",
        "protocolVersion",
        "capabilities",
        "clientInfo",
        "version",
        "inputResponses",
        "requestState",
        "_meta",
        META_VERSION,
        META_CAPABILITIES,
        META_LOG_LEVEL,
        "other",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(["", "info", "ref/prompt", "debug", "x"]),
    st.text(max_size=5),
)
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(NAMES, inner, max_size=6)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(method=st.sampled_from(sorted(SPECS)), value=st.dictionaries(NAMES, JSON, max_size=7))
def test_valid_and_explain_agree(method: str, value: dict[str, Any]) -> None:
    spec = SPECS[method]
    assert spec.valid(value) == (spec.explain(value, "") is None), (method, value)


def test_a_wrong_nested_field_is_named_with_its_path() -> None:
    spec = REQUESTS["tools/call"]
    value = {"name": "add", "_meta": {META_LOG_LEVEL: "loud"}}
    assert not spec.valid(value)
    problem = spec.explain(value, "")
    assert problem is not None
    assert problem.startswith(f"'_meta.{META_LOG_LEVEL}' must be one of")
