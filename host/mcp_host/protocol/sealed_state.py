"""Sealing ``requestState`` for multi round-trip requests (2026-07-28).

The state travels through the client, so it is integrity-protected with HMAC-SHA256 and
bound to the method, a digest of the request's parameters, the principal and an expiry.

The principal is whatever string the transport says identifies the caller: over HTTP today
``authorization-sha256:<digest>`` of the ``Authorization`` header (``None`` without one), later
an authenticated principal; over stdio ``None``. Only a keyed tag of it enters the state
(``principal_tag``), so a state that leaks reveals nothing about the caller's credential, not
even a digest that could be guessed at offline.

Keys rotate. The sealer is given a list of secrets: it seals with the first and opens with any,
so an operator rotating ``[host] state_secrets`` puts the new secret first and keeps the old one
second until the states it sealed have expired (``state_ttl_seconds``). No secret is used as a
key directly: each is stretched by HKDF-SHA256 (RFC 5869) into one key per purpose, with the
purpose as HKDF's ``info`` (``PURPOSE_STATE`` seals states, ``PURPOSE_PRINCIPAL`` tags the
principal), so a value made for one purpose is worthless for the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
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


PURPOSE_STATE = b"mcp-host requestState v1"
"""HKDF ``info`` of the key that MACs a sealed ``requestState``."""
PURPOSE_PRINCIPAL = b"mcp-host principal tag v1"
"""HKDF ``info`` of the key that tags the caller's principal inside a state."""
_HKDF_SALT = b"mcp-host sealed state"


def hkdf_sha256(secret: bytes, info: bytes, length: int = 32, salt: bytes = _HKDF_SALT) -> bytes:
    """RFC 5869 HKDF with SHA-256: extract a pseudorandom key from ``secret``, expand it to
    ``length`` bytes bound to ``info``."""
    if not 0 < length <= 255 * hashlib.sha256().digest_size:
        raise ValueError(f"HKDF-SHA256 cannot produce {length} bytes")
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


class _Keys:
    """The keys derived from one secret, one per purpose."""

    __slots__ = ("principal", "state")

    def __init__(self, secret: bytes) -> None:
        self.state = hkdf_sha256(secret, PURPOSE_STATE)
        self.principal = hkdf_sha256(secret, PURPOSE_PRINCIPAL)

    def tag(self, principal: str | None) -> str | None:
        if principal is None:
            return None
        mac = hmac.new(self.principal, principal.encode(), hashlib.sha256)
        return mac.hexdigest()[:32]


WRONG_PRINCIPAL = (
    "Invalid requestState: it was issued to a different caller (it is bound to the "
    "Authorization credential, or its absence, of the request that received it); send the "
    "request again without requestState and inputResponses"
)


class StateSealer:
    """Seals with the first of ``secrets``, opens what any of them sealed.

    :param secrets: one secret, or several, newest first (bytes of any length; operators give
        random strings of 32 bytes or more).
    :param ttl_seconds: how long a sealed state stays valid.
    """

    def __init__(self, secrets: bytes | Sequence[bytes], ttl_seconds: int) -> None:
        given = [secrets] if isinstance(secrets, bytes) else list(secrets)
        if not given or not all(isinstance(s, bytes) and s for s in given):
            raise ValueError("StateSealer needs at least one non-empty secret (bytes)")
        self._keys = [_Keys(secret) for secret in given]
        self._ttl = ttl_seconds

    def principal_tag(self, principal: str | None) -> str | None:
        """What a state sealed now records of ``principal``: an HMAC of it under the first
        secret's principal-tag key."""
        return self._keys[0].tag(principal)

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
        mac = hmac.new(self._keys[0].state, body, hashlib.sha256).digest()
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
        keys = next(
            (
                keys
                for keys in self._keys
                if hmac.compare_digest(mac, hmac.new(keys.state, body, hashlib.sha256).digest())
            ),
            None,
        )
        if keys is None:
            raise ProtocolError(
                INVALID_PARAMS,
                "Invalid requestState: integrity check failed (altered, or sealed with a key "
                "this server no longer holds); send the request again without it",
            )
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise ProtocolError(INVALID_PARAMS, "Invalid requestState: not issued by this server")
        expires = payload.get("e")
        if not isinstance(expires, int) or expires < time.time():
            raise ProtocolError(
                INVALID_PARAMS, "Invalid requestState: expired; send the request again without it"
            )
        if payload.get("m") != method or payload.get("d") != params_digest(params):
            raise ProtocolError(
                INVALID_PARAMS, "Invalid requestState: it belongs to a different request"
            )
        # The tag was made with the principal key of the secret that sealed the state.
        recorded, expected_tag = payload.get("p"), keys.tag(principal)
        if recorded is None or expected_tag is None:
            if recorded is not expected_tag:
                raise ProtocolError(INVALID_PARAMS, WRONG_PRINCIPAL)
        elif not isinstance(recorded, str) or not hmac.compare_digest(recorded, expected_tag):
            raise ProtocolError(INVALID_PARAMS, WRONG_PRINCIPAL)
        answers = payload.get("a")
        return dict(answers) if isinstance(answers, dict) else {}
