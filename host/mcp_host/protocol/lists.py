"""tools/list, resources/list, resources/templates/list, prompts/list: paginated, pre-serialized.

A page is serialized once per catalog snapshot, era and offset, then served as bytes. Cursors
are opaque to clients (base64 of the offset); one that does not decode is invalid params.

A connection with a caller whose scopes matter (some entry needs a scope) is served its own
``CallerView`` instead: the entries it may use, paginated and cached per view, marked
``cacheScope: private``, with cursors carrying the view's tag (see ``authorize``).
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Collection, Mapping
from typing import Any

from mcp_host.errors import ProtocolError

from .jsonrpc import INVALID_PARAMS, dumps
from .request import Request
from .versions import META_SERVER_INFO
from .views import CallerView, visible


def encode_cursor(offset: int, tag: str | None = None) -> str:
    text = f"o:{offset}" if tag is None else f"o:{offset}:{tag}"
    return base64.urlsafe_b64encode(text.encode()).decode("ascii")


def _shown(cursor: object) -> str:
    """The cursor for an error message: a huge one is not echoed whole."""
    text = repr(cursor)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def decode_cursor(cursor: object, total: int, tag: str | None = None) -> int:
    """The offset ``cursor`` stands for. ``tag`` marks the caller's view (see ``authorize``):
    a cursor made for another view, or for the unfiltered list, is refused."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(str(cursor).encode("ascii")).decode("ascii")
        if not text.startswith("o:"):
            raise ValueError(text)
        number, _, found = text[2:].partition(":")
        offset = int(number)
    except (ValueError, UnicodeError, binascii.Error):
        raise ProtocolError(
            INVALID_PARAMS, f"Invalid params: invalid cursor {_shown(cursor)}"
        ) from None
    if (found or None) != tag:
        raise ProtocolError(
            INVALID_PARAMS,
            f"Invalid params: the cursor {_shown(cursor)} belongs to a listing made for other "
            "credentials (scopes); list again without a cursor",
        )
    if not 0 <= offset <= total:
        raise ProtocolError(
            INVALID_PARAMS, f"Invalid params: cursor {_shown(cursor)} is out of range"
        )
    return offset


def _page(
    request: Request,
    params: Mapping[str, Any],
    method: str,
    key: str,
    entries: Collection[Any],
) -> bytes:
    engine = request.services
    caller = request.caller
    if caller is not None:  # authenticated: the caller may see less (see ``authorize``)
        view = engine.caller_view(request.catalog, caller)
        if view is not None:
            return _serialize(request, params, method, key, visible(view, method), view)
    return _serialize(request, params, method, key, entries, None)


def _serialize(
    request: Request,
    params: Mapping[str, Any],
    method: str,
    key: str,
    entries: Collection[Any],
    view: CallerView | None,
) -> bytes:
    engine = request.services
    tag = None if view is None else view.tag
    offset = decode_cursor(params.get("cursor"), len(entries), tag)
    cache = engine.page_cache(request.catalog) if view is None else view.pages
    cache_key = (method, request.era, offset)
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    size = engine.settings.page_size
    page = itertools.islice(entries, offset, offset + size)
    result: dict[str, Any] = {key: [entry.descriptor for entry in page]}
    if offset + size < len(entries):
        result["nextCursor"] = encode_cursor(offset + size, tag)
    if request.era == "modern":
        result["resultType"] = "complete"
        result.update(engine.cache_hints(private=view is not None))
        result["_meta"] = {META_SERVER_INFO: engine.settings.server_info}
    data = dumps(result)
    cache[cache_key] = data
    return data


async def tools_list(request: Request, params: Mapping[str, Any]) -> bytes:
    return _page(request, params, "tools/list", "tools", request.catalog.tools.values())


async def resources_list(request: Request, params: Mapping[str, Any]) -> bytes:
    return _page(request, params, "resources/list", "resources", request.catalog.resources.values())


async def templates_list(request: Request, params: Mapping[str, Any]) -> bytes:
    return _page(
        request, params, "resources/templates/list", "resourceTemplates", request.catalog.templates
    )


async def prompts_list(request: Request, params: Mapping[str, Any]) -> bytes:
    return _page(request, params, "prompts/list", "prompts", request.catalog.prompts.values())
