"""subscriptions/listen (2026-07-28): a long-lived request carrying chosen notifications."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import anyio

from mcp_host.catalog._catalog import CatalogEvent
from mcp_host.errors import ProtocolError

from .jsonrpc import INVALID_PARAMS, notification_bytes
from .request import Request
from .resources import check_uri_length
from .versions import META_SUBSCRIPTION_ID

_LIST_FLAGS = {
    "toolsListChanged": "tools",
    "promptsListChanged": "prompts",
    "resourcesListChanged": "resources",
}


async def listen(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    wanted = params.get("notifications") or {}
    if not isinstance(wanted, Mapping):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: 'notifications' must be an object")
    honored: dict[str, Any] = {flag: True for flag in _LIST_FLAGS if wanted.get(flag) is True}
    uris = wanted.get("resourceSubscriptions")
    if uris is not None:
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise ProtocolError(
                INVALID_PARAMS, "Invalid params: resourceSubscriptions must be a list of URIs"
            )
        for uri in uris:
            check_uri_length(uri)
        honored["resourceSubscriptions"] = list(uris)
    lists = {kind for flag, kind in _LIST_FLAGS.items() if honored.get(flag)}
    watched = set(honored.get("resourceSubscriptions", ()))
    meta = {META_SUBSCRIPTION_ID: request.request_id}
    sender, receiver = anyio.create_memory_object_stream[CatalogEvent](256)

    def listener(event: CatalogEvent) -> None:
        with contextlib.suppress(
            anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError
        ):
            sender.send_nowait(event)

    engine = request.services
    unsubscribe = engine.catalog.subscribe(listener)
    engine.listening.add(sender.close)
    if engine.closing:
        sender.close()
    try:
        await request.sink(
            notification_bytes(
                "notifications/subscriptions/acknowledged",
                {"_meta": meta, "notifications": honored},
            )
        )
        async with receiver:
            async for event in receiver:
                for kind in sorted(event.list_changed & lists):
                    await request.sink(
                        notification_bytes(f"notifications/{kind}/list_changed", {"_meta": meta})
                    )
                if event.resource_updated and event.resource_updated in watched:
                    await request.sink(
                        notification_bytes(
                            "notifications/resources/updated",
                            {"uri": event.resource_updated, "_meta": meta},
                        )
                    )
    finally:
        unsubscribe()
        engine.listening.discard(sender.close)
        sender.close()
    return {"_meta": meta}
