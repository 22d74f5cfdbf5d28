"""Scope strings: what a contribution needs from the caller's credential.

A scope is an OAuth 2.0 scope token (RFC 6749 section 3.3): one or more printable ASCII
characters other than space, ``"`` and ``\\``. Authors declare scopes with
``@plugin.tool(scopes=[...])`` (and on resources, templates and prompts); operators set or
override them in the configuration. Both are checked here, so a typo such as ``"sql read"`` or
a look-alike Unicode letter is an error when the plugin registers, not a scope nobody can hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["SCOPE_TOKEN", "check_scope", "scope_set"]

SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
"""RFC 6749 ``scope-token = 1*( %x21 / %x23-5B / %x5D-7E )``."""

MAX_SCOPE_LENGTH = 256
"""Longer than any scope a real authorization server issues; beyond it, a mistake."""


def check_scope(scope: object) -> str:
    """``scope`` when it is a valid scope token; else ``ValueError`` saying what is wrong."""
    if not isinstance(scope, str):
        raise ValueError(f"a scope must be a string, got {type(scope).__name__} {scope!r}")
    if not scope:
        raise ValueError("a scope must not be empty")
    if len(scope) > MAX_SCOPE_LENGTH:
        raise ValueError(
            f"the scope {scope[:40]!r}... is longer than {MAX_SCOPE_LENGTH} characters"
        )
    if SCOPE_TOKEN.fullmatch(scope) is None:
        bad = next(c for c in scope if SCOPE_TOKEN.fullmatch(c) is None)
        raise ValueError(
            f"the scope {scope!r} is not a valid scope token: it contains {bad!r} "
            f"(U+{ord(bad):04X}); a scope is printable ASCII without spaces, '\"' or '\\' "
            "(RFC 6749 section 3.3). Give several scopes as separate list items"
        )
    return scope


def scope_set(scopes: Iterable[str] | None) -> frozenset[str]:
    """The scopes as a frozenset, each checked; ``ValueError`` for an invalid one, or for a
    bare string (a list is expected: ``scopes=["sql:read"]``)."""
    if scopes is None:
        return frozenset()
    if isinstance(scopes, str | bytes):
        raise ValueError(f'scopes must be a list of strings, e.g. scopes=["{scopes!s}"]')
    try:
        items = list(scopes)
    except TypeError:
        raise ValueError(f"scopes must be a list of strings, got {type(scopes).__name__}") from None
    return frozenset(check_scope(scope) for scope in items)
