"""``x-mcp-header`` parameters: found and checked in schemas, matched against requests."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from mcp_host import McpHeader, Plugin, Registry
from mcp_host.catalog_build import build_catalog
from mcp_host.errors import CatalogError
from mcp_host.param_headers import InvalidHeader, ParamHeader, decode, find, mismatch
from mcp_host.plugins.handle import PluginHandle


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
            limit={"anyOf": [{"type": "integer"}, {"type": "null"}], "x-mcp-header": "Limit"},
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


def test_mcp_header_marks_a_parameter_and_bad_ones_fail_the_catalog() -> None:
    plugin = Plugin("p")

    @plugin.tool()
    def route(region: Annotated[str, McpHeader("Region")]) -> str:
        return region

    @plugin.tool()
    def broken(ratio: Annotated[float, McpHeader("Ratio")]) -> float:
        return ratio

    registry = Registry("p")
    plugin.mcp_host_register(registry, None)
    assert registry.tools[0].input_schema["properties"]["region"]["x-mcp-header"] == "Region"
    with pytest.raises(CatalogError, match="tool 'broken' is invalid: x-mcp-header 'Ratio'"):
        build_catalog([(PluginHandle("p"), registry)])
    registry.tools.pop()
    catalog = build_catalog([(PluginHandle("p"), registry)])
    assert catalog.tools["route"].param_headers == (ParamHeader("Region", ("region",), "string"),)
