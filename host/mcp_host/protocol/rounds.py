"""Multi round-trip (2026-07-28): the answers of a retry in, an ``input_required`` result out.

Used by the dispatcher, for the methods whose table entry says ``multi_round_trip=True``:
``load_answers`` before the handler runs, ``input_required`` when it asked something the
client has not answered yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_host.errors import ProtocolError

from .jsonrpc import INVALID_PARAMS
from .request import InputRequired, Request


def load_answers(request: Request, params: Mapping[str, Any]) -> None:
    """Gather a modern retry's answers into ``request.answers``: those sealed in
    ``requestState`` (which win) and the ``inputResponses`` sent with it. Unknown keys are
    ignored; answers of the wrong shape are asked again."""
    responses = params.get("inputResponses")
    if responses is not None and not isinstance(responses, dict):
        raise ProtocolError(
            INVALID_PARAMS,
            "inputResponses must be an object mapping each key of the server's "
            "inputRequests to the client's result for it",
        )
    answers: dict[str, Any] = dict(responses or {})
    state = params.get("requestState")
    if state is not None:
        answers.update(
            request.services.sealer.unseal(
                state, method=request.method, params=params, principal=request.principal
            )
        )
    request.answers = answers


def input_required(request: Request, asked: InputRequired) -> dict[str, Any]:
    """The modern-era answer to a handler that asked the client something: what it asked,
    and a sealed ``requestState`` carrying the answers it already took."""
    state = request.services.sealer.seal(
        method=request.method,
        params=request.params,
        principal=request.principal,
        answers=request.used,
    )
    return {"resultType": "input_required", "inputRequests": asked.requests, "requestState": state}
