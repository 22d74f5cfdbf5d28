"""resources/read, and reading resources on behalf of handlers (``ctx.read_resource``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from mcp_host.authoring._names import prefixed_uri, unprefixed_uri
from mcp_host.authoring._specs import ResourceContents
from mcp_host.errors import ProtocolError, ResourceNotFound, ToolError, unexpected_failure
from mcp_host.plugin.isolation import marks_plugin_calls

from .jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, RESOURCE_NOT_FOUND_LEGACY
from .plugin_calls import EXPECTED, call_budgeted, contain
from .request import Request

log = logging.getLogger("mcp_host.protocol")

MAX_URI_LENGTH = 8192
"""The longest resource URI, in characters, that ``resources/read``, ``resources/subscribe``
and ``subscriptions/listen`` accept: far above any real URI, and a bound on the work of
matching it against every resource template."""

_READ_ERRORS: tuple[type[BaseException], ...] = (*EXPECTED, ResourceNotFound)


def resource_uri(params: Mapping[str, Any]) -> str:
    """``params["uri"]``: a non-empty string of at most ``MAX_URI_LENGTH`` characters, or a
    -32602 error saying what is wrong."""
    uri = params.get("uri")
    if not isinstance(uri, str) or not uri:
        raise ProtocolError(INVALID_PARAMS, "Invalid params: 'uri' must be a non-empty string")
    check_uri_length(uri)
    return uri


def check_uri_length(uri: str) -> None:
    """A -32602 error when ``uri`` is longer than ``MAX_URI_LENGTH``."""
    if len(uri) > MAX_URI_LENGTH:
        raise ProtocolError(
            INVALID_PARAMS,
            f"Invalid params: the resource URI is {len(uri)} characters long; the host accepts "
            f"at most {MAX_URI_LENGTH}. Shorten the URI.",
        )


def _not_found(request: Request, uri: str, message: str | None = None) -> ProtocolError:
    code = INVALID_PARAMS if request.era == "modern" else RESOURCE_NOT_FOUND_LEGACY
    return ProtocolError(code, message or f"Resource not found: {uri}", {"uri": uri})


@marks_plugin_calls  # its frame has ``owner`` and ``subject``, for the event-loop watchdog
async def read_contents(request: Request, uri: str) -> Sequence[ResourceContents]:
    """Read ``uri`` (a final URI); raises ``ResourceNotFound`` when nothing serves it, and
    ``PluginCallFailed`` when the plugin serving it failed."""
    found = request.catalog.find_resource(uri)
    if found is None:
        raise ResourceNotFound(uri)
    owner, subject = found.owner, found.subject
    ctx = request.context_for(owner)
    contents: Sequence[ResourceContents]
    try:
        if owner.budget is None:
            contents = await found.read(found.plugin_uri, found.variables, ctx)
        else:
            contents = await call_budgeted(
                owner, subject, found.read, found.plugin_uri, found.variables, ctx
            )
    except _READ_ERRORS:
        raise
    except BaseException as exc:  # whatever else the plugin raised: this read's failure
        raise contain(owner, subject, exc) from None
    if owner.prefix:
        # contents a handler already gave its served URI (``ctx.served_uri``) keep it
        contents = [
            c
            if unprefixed_uri(owner.prefix, c.uri) != c.uri
            else ResourceContents(
                uri=prefixed_uri(owner.prefix, c.uri),
                text=c.text,
                blob=c.blob,
                mime_type=c.mime_type,
                meta=c.meta,
            )
            for c in contents
        ]
    return contents


async def read(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    uri = resource_uri(params)
    try:
        contents = await read_contents(request, uri)
    except ResourceNotFound as exc:
        raise _not_found(request, uri, str(exc)) from None
    except ProtocolError:
        raise
    except ToolError as exc:  # the plugin failed (logged), or a request to the client did
        raise ProtocolError(INTERNAL_ERROR, str(exc)) from None
    except Exception as exc:  # what the plugin returned could not be used
        log.exception("reading %s failed", uri)
        raise ProtocolError(
            INTERNAL_ERROR,
            unexpected_failure(f"Reading {uri}", exc),
        ) from None
    result: dict[str, Any] = {"contents": [c.to_dict() for c in contents]}
    if request.era == "modern":
        # With a caller, what is read may depend on who reads it (scopes, ``ctx.principal``).
        result.update(request.services.cache_hints(private=request.caller is not None))
    return result
