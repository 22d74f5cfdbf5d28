"""``MethodEntry``: one row of the engine's method table, and the ``Handler`` it points to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import params
from .intercept import Interceptor
from .observe import Observer
from .request import Request, Services

Handler = Callable[[Request, Mapping[str, Any]], Awaitable[dict[str, Any] | bytes]]
"""A method's handler: the request and its params in, the result (or its JSON bytes) out."""

_PARAMLESS = params.for_request("ping")


@dataclass(frozen=True, slots=True)
class MethodEntry:
    """How the dispatcher serves one method."""

    handler: Handler
    modern: bool = True
    legacy: bool = True
    capability: str | None = None
    """The server capability the method needs; without it the method is not found."""
    check: params.ParamsCheck = _PARAMLESS
    """Raises -32602 when the params do not have the shape the method's spec declares."""
    multi_round_trip: bool = False
    """On the modern era, the handler may ask the client for input (``ctx.elicit``, ...): the
    dispatcher loads the answers of a retry (``inputResponses`` and the sealed
    ``requestState``) into the request before the handler runs, and turns a question the
    handler could not have answered into an ``input_required`` result. Elsewhere asking is
    an error."""


Method = MethodEntry
"""The former name of ``MethodEntry``."""


class Dispatcher(Services, Protocol):
    """What a ``Connection`` dispatches with (the ``Engine`` implements it)."""

    @property
    def methods(self) -> Mapping[str, MethodEntry]:
        """The method table: one entry per method the server serves."""
        ...

    @property
    def interceptors(self) -> Sequence[Interceptor]:
        """What runs around every request (see ``intercept``); empty: nothing does."""
        ...

    @property
    def observer(self) -> Observer | None:
        """The host's observer (metrics, spans, log context), first of ``interceptors``, or
        ``None`` when nothing is observed."""
        ...
