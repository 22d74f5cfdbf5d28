"""``CallerView``: what one caller may see of a catalog snapshot, for the list methods.

A caller (an authenticated or anonymous ``Principal``; see ``authorize``) sees only the
entries its scopes cover. ``ViewCache`` keeps one view per (catalog generation, relevant
scopes), each with its own list pages serialized once (``lists``), marked ``cacheScope:
private``, and cursors tagged with the view so that a cursor from another caller's listing is
refused rather than read against a different list.

The key is the caller's scopes *intersected with the scopes the catalog uses*: a credential
carrying thousands of scopes costs one intersection and shares the view of every credential
granting the same relevant scopes. The cache is bounded (``MAX_VIEWS``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from mcp_host.authoring._principal import Principal
from mcp_host.catalog._catalog import (
    Catalog,
    CatalogPrompt,
    CatalogResource,
    CatalogTemplate,
    CatalogTool,
)

__all__ = ["MAX_VIEWS", "CallerView", "ViewCache", "visible"]

MAX_VIEWS = 256
"""Views kept per engine (one per distinct relevant scope set); the oldest goes first."""


class CallerView:
    """The entries of one catalog snapshot that callers holding ``scopes`` may use, with the
    list pages serialized for them (filled by ``lists`` on first use)."""

    __slots__ = ("pages", "prompts", "resources", "tag", "templates", "tools")

    def __init__(self, catalog: Catalog, scopes: frozenset[str]) -> None:
        self.tools: tuple[CatalogTool, ...] = _granted(catalog.tools.values(), scopes)
        self.resources: tuple[CatalogResource, ...] = _granted(catalog.resources.values(), scopes)
        self.templates: tuple[CatalogTemplate, ...] = _granted(catalog.templates, scopes)
        self.prompts: tuple[CatalogPrompt, ...] = _granted(catalog.prompts.values(), scopes)
        digest = hashlib.sha256("\n".join(sorted(scopes)).encode()).hexdigest()
        self.tag = digest[:16]
        """Marks this view's cursors: a cursor made for another scope set is refused."""
        self.pages: dict[tuple[str, str, int], bytes] = {}


_E = TypeVar("_E", CatalogTool, CatalogResource, CatalogTemplate, CatalogPrompt)


def _granted(entries: Iterable[_E], scopes: frozenset[str]) -> tuple[_E, ...]:
    return tuple(entry for entry in entries if scopes.issuperset(entry.scopes))


class ViewCache:
    """``CallerView`` per (catalog generation, relevant scopes), the oldest evicted first."""

    def __init__(self, limit: int = MAX_VIEWS) -> None:
        self.limit = limit
        self._views: OrderedDict[tuple[int, frozenset[str]], CallerView] = OrderedDict()

    def view(self, catalog: Catalog, caller: Principal) -> CallerView | None:
        """What ``caller`` sees of ``catalog``; ``None`` when that is everything for everyone
        (no entry needs a scope), so the shared pages serve."""
        used = catalog.scopes_used
        if not used:
            return None
        # Iterates the smaller set: a principal with a huge scope list costs little.
        relevant = used & caller.scopes
        key = (catalog.generation, relevant)
        views = self._views
        view = views.get(key)
        if view is None:
            if views and next(iter(views))[0] != catalog.generation:
                views.clear()  # a new snapshot: the old views are of no use any more
            view = views[key] = CallerView(catalog, relevant)
            while len(views) > self.limit:
                views.popitem(last=False)
        return view

    def __len__(self) -> int:
        return len(self._views)


def visible(view: CallerView, method: str) -> Sequence[Any]:
    """The entries of ``view`` a list method shows."""
    if method == "tools/list":
        return view.tools
    if method == "resources/list":
        return view.resources
    if method == "resources/templates/list":
        return view.templates
    return view.prompts
