"""``x-mcp-header`` parameters: found and checked in schemas, matched against requests."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import pytest
from mcp.shared.inbound import find_invalid_x_mcp_header

from mcp_host import McpHeader, Plugin, Registry
from mcp_host.authoring.param_headers import InvalidHeader, ParamHeader, decode, find, mismatch
from mcp_host.catalog._build import build_catalog
from mcp_host.catalog._handle import PluginHandle
from mcp_host.errors import CatalogError


def schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def test_finds_annotated_parameters_through_properties_only() -> None:
    found = find(
        schema(
            region={"type": "string", "x-mcp-header": "Region"},
            options={
                "type": "object",
                "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry-Run"}},
            },
            limit={"type": "integer", "x-mcp-header": "Limit"},
            plain={"type": "string"},
        )
    )
    assert found == (
        ParamHeader("Region", ("region",), "string"),
        ParamHeader("Dry-Run", ("options", "dry"), "boolean"),
        ParamHeader("Limit", ("limit",), "integer"),
    )
    assert found[1].header == "mcp-param-dry-run"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (
            schema(a={"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}),
            "reachable",
        ),
        (
            {"type": "object", "anyOf": [schema(a={"type": "string", "x-mcp-header": "A"})]},
            "reachable",
        ),
        ({"type": "object", "$defs": {"d": {"type": "string", "x-mcp-header": "A"}}}, "reachable"),
        (schema(a={"type": "number", "x-mcp-header": "A"}), "not a string, integer or boolean"),
        # Clients (the official SDK among them) drop a tool whose header property has no
        # single primitive "type", so the host refuses to publish one.
        (
            schema(a={"anyOf": [{"type": "integer"}, {"type": "null"}], "x-mcp-header": "A"}),
            "anyOf without a type",
        ),
        (schema(a={"type": ["integer", "null"], "x-mcp-header": "A"}), 'one "type"'),
        (schema(a={"x-mcp-header": "A"}), "got no type"),
        (schema(a={"type": "string", "x-mcp-header": "Bad Name"}), "token"),
        (schema(a={"type": "string", "x-mcp-header": ""}), "token"),
        (
            schema(
                a={"type": "string", "x-mcp-header": "X"}, b={"type": "string", "x-mcp-header": "x"}
            ),
            "used twice",
        ),
    ],
)
def test_invalid_annotations_are_refused(bad: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        find(bad)


def test_decode() -> None:
    assert decode("us-west1") == "us-west1"
    assert decode("=?base64?SGVsbG8sIOS4lueVjA==?=") == "Hello, 世界"
    assert decode("=?base64?SGVsbG8=") == "=?base64?SGVsbG8="  # no suffix: a literal
    for bad in ("=?base64?SGVsbG8?=", "=?base64?SGVs!!!bG8=?=", "caf\u00e9", "a\nb"):
        with pytest.raises(InvalidHeader):
            decode(bad)


PARAMS = (
    ParamHeader("Region", ("region",), "string"),
    ParamHeader("N", ("n",), "integer"),
    ParamHeader("Flag", ("flag",), "boolean"),
)


@pytest.mark.parametrize(
    ("headers", "arguments", "problem"),
    [
        (
            {"mcp-param-region": "eu", "mcp-param-n": "7", "mcp-param-flag": "true"},
            {"region": "eu", "n": 7, "flag": True},
            None,
        ),
        ({"mcp-param-region": "=?base64?IGV1IA==?="}, {"region": " eu "}, None),
        ({}, {"region": None}, None),
        ({}, {}, None),
        ({}, {"region": "eu"}, "required"),
        ({"mcp-param-region": "us"}, {"region": "eu"}, "does not match"),
        ({"mcp-param-n": "7.0"}, {"n": 7}, "does not match"),
        ({"mcp-param-flag": "True"}, {"flag": True}, "does not match"),
        ({"mcp-param-region": "eu"}, {}, "has no value"),
        ({"mcp-param-region": "=?base64?ZXU?="}, {"region": "eu"}, "Base64"),
    ],
)
def test_mismatch(headers: dict[str, str], arguments: dict[str, Any], problem: str | None) -> None:
    found = mismatch(PARAMS, headers, arguments)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_mcp_header_marks_a_parameter_and_bad_ones_fail_the_decorator() -> None:
    plugin = Plugin("p")

    @plugin.tool()
    def route(region: Annotated[str, McpHeader("Region")]) -> str:
        return region

    with pytest.raises(TypeError, match="tool 'broken': x-mcp-header 'Ratio' marks ratio"):

        @plugin.tool()
        def broken(ratio: Annotated[float, McpHeader("Ratio")]) -> float:
            return ratio

    with pytest.raises(TypeError, match="tool 'listed': x-mcp-header 'Tags' marks tags"):

        @plugin.tool()
        def listed(tags: Annotated[list[str], McpHeader("Tags")]) -> str:
            return ",".join(tags)

    registry = Registry("p")
    plugin.mcp_host_register(registry, None)
    assert [t.name for t in registry.tools] == ["route"]
    assert registry.tools[0].input_schema["properties"]["region"]["x-mcp-header"] == "Region"
    catalog = build_catalog([(PluginHandle("p"), registry)])
    assert catalog.tools["route"].param_headers == (ParamHeader("Region", ("region",), "string"),)


def test_a_spec_registered_without_the_decorator_is_still_checked_by_the_catalog() -> None:
    registry = Registry("p")
    plugin = Plugin("p")

    @plugin.tool()
    def route(region: str) -> str:
        return region

    plugin.mcp_host_register(registry, None)
    spec = registry.tools[0]
    bad = {"type": "object", "properties": {"r": {"type": "number", "x-mcp-header": "R"}}}
    registry.tools[0] = dataclasses.replace(spec, input_schema=bad)
    with pytest.raises(CatalogError, match="tool 'route' is invalid: x-mcp-header 'R'"):
        build_catalog([(PluginHandle("p"), registry)])


def test_an_optional_header_parameter_is_published_with_one_type() -> None:
    """``int | None`` is what pydantic writes as ``anyOf``; clients accept only one ``type``."""
    plugin = Plugin("p")

    @plugin.tool()
    def ranked(
        region: Annotated[str | None, McpHeader("Region")] = None,
        priority: Annotated[int | None, McpHeader("Priority")] = None,
        urgent: Annotated[bool, McpHeader("Urgent")] = False,
    ) -> str:
        """Rank.

        Args:
            priority: How urgent, 1 to 5.
        """
        return f"{region} {priority} {urgent}"

    registry = Registry("p")
    plugin.mcp_host_register(registry, None)
    published = registry.tools[0].input_schema
    assert published["properties"] == {
        "region": {"type": "string", "x-mcp-header": "Region"},
        "priority": {
            "type": "integer",
            "x-mcp-header": "Priority",
            "description": "How urgent, 1 to 5.",
        },
        "urgent": {"type": "boolean", "x-mcp-header": "Urgent", "default": False},
    }
    assert "required" not in published
    assert find_invalid_x_mcp_header(published) is None
    catalog = build_catalog([(PluginHandle("p"), registry)])
    assert [h.kind for h in catalog.tools["ranked"].param_headers] == [
        "string",
        "integer",
        "boolean",
    ]
