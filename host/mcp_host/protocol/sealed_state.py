"""Sealing ``requestState`` for multi round-trip requests (2026-07-28).

The state travels through the client, so it is integrity-protected with HMAC-SHA256 and
bound to the method, a digest of the request's parameters, the principal and an expiry.

The principal is whatever string the transport says identifies the caller: over HTTP today
``authorization-sha256:<digest>`` of the ``Authorization`` header (``None`` without one), later
an authenticated principal; over stdio ``None``. Only a keyed tag of it enters the state
(``principal_tag``), so a state that leaks reveals nothing about the caller's credential, not
even a digest that could be guessed at offline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from mcp_host.errors import ProtocolError

from .jsonrpc import INVALID_PARAMS

_EXCLUDED = ("_meta", "inputResponses", "requestState")


def params_digest(params: Mapping[str, Any]) -> str:
    salient = {k: v for k, v in params.items() if k not in _EXCLUDED}
    canonical = json.dumps(salient, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


WRONG_PRINCIPAL = (
    "Invalid requestState: it was issued to a different caller (it is bound to the "
    "Authorization credential, or its absence, of the request that received it); send the "
    "request again without requestState and inputResponses"
)


class StateSealer:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self._ttl = ttl_seconds

    def principal_tag(self, principal: str | None) -> str | None:
        """What the state records of ``principal``: an HMAC of it under the sealing key."""
        if principal is None:
            return None
        mac = hmac.new(self._key, b"principal\x00" + principal.encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def seal(
        self,
        *,
        method: str,
        params: Mapping[str, Any],
        principal: str | None,
        answers: Mapping[str, Any],
    ) -> str:
        payload = {
            "m": method,
            "d": params_digest(params),
            "p": self.principal_tag(principal),
            "e": int(time.time()) + self._ttl,
            "a": dict(answers),
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        return f"{_b64(body)}.{_b64(mac)}"

    def unseal(
        self, token: object, *, method: str, params: Mapping[str, Any], principal: str | None
    ) -> dict[str, Any]:
        """The answers recorded so far, by key; ``ProtocolError`` (-32602) on any mismatch."""
        if not isinstance(token, str) or token.count(".") != 1:
            raise ProtocolError(INVALID_PARAMS, "Invalid requestState: not issued by this server")
        body_text, mac_text = token.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError as exc:
            raise ProtocolError(
                INVALID_PARAMS, "Invalid requestState: not issued by this server"
            ) from exc
        expected = hmac.new(self._key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise ProtocolError(INVALID_PARAMS, "Invalid requestState: integrity check failed")
        payload = json.loads(body)
        if payload.get("e", 0) < time.time():
            raise ProtocolError(
                INVALID_PARAMS, "Invalid requestState: expired; send the request again without it"
            )
        if payload.get("m") != method or payload.get("d") != params_digest(params):
            raise ProtocolError(
                INVALID_PARAMS, "Invalid requestState: it belongs to a different request"
            )
        recorded, expected_tag = payload.get("p"), self.principal_tag(principal)
        if recorded is None or expected_tag is None:
            if recorded is not expected_tag:
                raise ProtocolError(INVALID_PARAMS, WRONG_PRINCIPAL)
        elif not isinstance(recorded, str) or not hmac.compare_digest(recorded, expected_tag):
            raise ProtocolError(INVALID_PARAMS, WRONG_PRINCIPAL)
        answers = payload.get("a")
        return dict(answers) if isinstance(answers, dict) else {}
