"""Matching URIs against RFC 6570 templates."""

from __future__ import annotations

import pytest

from mcp_host.uritemplate import compile_template, variables


@pytest.mark.parametrize(
    ("template", "uri", "expected"),
    [
        ("weather://{city}/current", "weather://Oslo/current", {"city": "Oslo"}),
        ("weather://{city}/current", "weather://S%C3%A3o%20Paulo/current", {"city": "São Paulo"}),
        ("weather://{city}/current", "weather://a/b/current", None),
        ("weather://{city}/current", "weather:///current", None),
        ("file:///{+path}", "file:///a/b/c.txt", {"path": "a/b/c.txt"}),
        (
            "sql://{database}/tables/{table}",
            "sql://shop/tables/orders",
            {"database": "shop", "table": "orders"},
        ),
        ("api://search{?q,page}", "api://search?page=2&q=hi", {"q": "hi", "page": "2"}),
        ("api://search{?q,page}", "api://search", {}),
        ("api://x{/segments*}", "api://x/a/b", {"segments": "a/b"}),
        ("api://file{.ext}", "api://file.txt", {"ext": "txt"}),
        ("api://m{;id}", "api://m;id=5", {"id": "5"}),
        ("api://{a,b}", "api://1,2", {"a": "1", "b": "2"}),
        ("pre+x://{id}", "pre+x://7", {"id": "7"}),
        ("x://{id}", "pre+x://7", None),
    ],
)
def test_match(template: str, uri: str, expected: dict[str, str] | None) -> None:
    assert compile_template(template)(uri) == expected


def test_variables() -> None:
    assert variables("a://{x}/{+y}{?p,q*}{/s:3}") == ["x", "y", "p", "q", "s"]
