"""Authorization: what a caller may see and use, from the scopes the catalog computed.

Every catalog entry knows the scopes it needs (``entry.scopes``, computed once when the
catalog is built). A connection without a caller (stdio, HTTP without authentication) may use
everything: nothing here runs for it. With a caller (``Connection.caller``, an authenticated
or anonymous ``Principal``):

- The dispatcher (``Connection``) checks, innermost (after every interceptor, once the params
  are valid) and for such connections only, that ``tools/call``, ``prompts/get``,
  ``resources/read`` (static and templated),
  ``resources/subscribe``, ``subscriptions/listen`` resource subscriptions and
  ``completion/complete`` name something the caller may use (``check`` with
  ``required_scopes``), and otherwise answers ``InsufficientScope``, whose
  ``data.requiredScopes`` names every scope the entry needs (so the client can step up). A name
  nothing serves is not refused here: the method answers it as unknown, as for anyone. A
  known-but-forbidden name is therefore distinguishable from an unknown one; the protocol's
  step-up needs that (see docs/auth.md, "Scopes").
- ``ctx.read_resource`` from a handler reads only what the caller could read itself
  (``check_read``).
- The list methods serve a ``CallerView`` (see ``views``): only the entries the caller's
  scopes cover.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_host.authoring._principal import Principal
from mcp_host.catalog._catalog import Catalog
from mcp_host.errors import InsufficientScope

from .resources import MAX_URI_LENGTH

__all__ = ["GUARDED_METHODS", "check", "check_read", "required_scopes"]

GUARDED_METHODS = frozenset(
    {
        "tools/call",
        "prompts/get",
        "resources/read",
        "resources/subscribe",
        "subscriptions/listen",
        "completion/complete",
    }
)
"""The methods that name something a caller may not be allowed to use."""


def check(caller: Principal, needed: tuple[str, frozenset[str]] | None) -> None:
    """Raise ``InsufficientScope`` unless ``caller`` holds every scope ``needed`` names."""
    if needed is None or caller.scopes.issuperset(needed[1]):
        return
    what, scopes = needed
    missing = " ".join(sorted(scopes - caller.scopes))
    raise InsufficientScope(
        scopes,
        f"Insufficient scope: {what} needs the scope(s) {' '.join(sorted(scopes))}; "
        f"the credential lacks {missing}. Obtain a token granting them and retry.",
    )


def check_read(caller: Principal | None, catalog: Catalog, uri: str) -> None:
    """A handler reading a resource for its caller (``ctx.read_resource``) may read only
    what the caller could read itself: a tool is no way around a resource's scopes."""
    if caller is not None:
        check(caller, _resource(catalog, uri))


def required_scopes(
    method: str, params: Mapping[str, Any], catalog: Catalog
) -> tuple[str, frozenset[str]] | None:
    """What a guarded request acts on (for the message) and the scopes it needs; ``None``
    when it names nothing served that needs a scope."""
    if method == "tools/call":
        name = params.get("name")
        tool = catalog.tools.get(name) if isinstance(name, str) else None
        return None if tool is None or not tool.scopes else (tool.subject, tool.scopes)
    if method == "prompts/get":
        return _prompt(catalog, params.get("name"))
    if method in ("resources/read", "resources/subscribe"):
        return _resource(catalog, params.get("uri"))
    if method == "completion/complete":
        ref = params.get("ref")
        if not isinstance(ref, Mapping):
            return None
        if ref.get("type") == "ref/prompt":
            return _prompt(catalog, ref.get("name"))
        template = ref.get("uri")
        for entry in catalog.templates:
            if entry.uri_template == template and entry.scopes:
                return f"Resource template '{template}'", entry.scopes
        return _resource(catalog, template)
    if method == "subscriptions/listen":
        wanted = params.get("notifications")
        uris = wanted.get("resourceSubscriptions") if isinstance(wanted, Mapping) else None
        if not isinstance(uris, list):
            return None
        needed: frozenset[str] = frozenset()
        for uri in uris:
            found = _resource(catalog, uri)
            if found is not None:
                needed |= found[1]
        return None if not needed else ("Subscribing to these resources", needed)
    return None


def _prompt(catalog: Catalog, name: object) -> tuple[str, frozenset[str]] | None:
    prompt = catalog.prompts.get(name) if isinstance(name, str) else None
    return None if prompt is None or not prompt.scopes else (f"Prompt '{name}'", prompt.scopes)


def _resource(catalog: Catalog, uri: object) -> tuple[str, frozenset[str]] | None:
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        return None  # the method refuses it as invalid params
    scopes = catalog.resource_scopes(uri)
    return None if not scopes else (f"Resource '{uri}'", scopes)
