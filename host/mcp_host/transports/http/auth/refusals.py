"""Why a request is not let in: ``Refused`` (the client's credential) and ``Unavailable``
(this server cannot check it now)."""

from __future__ import annotations


class Refused(Exception):
    """The credential is not accepted. ``status`` 401 with ``error`` ``invalid_token`` (or
    ``None``: no credential at all), or 400 ``invalid_request`` (malformed); ``description``
    is the sentence the client gets (never the credential); ``reason`` the word the
    ``mcp_host_auth_failures_total`` metric counts it under (from a fixed set: ``missing``,
    ``malformed``, ``invalid``, ``expired``, ``not_yet_valid``, ``wrong_audience``,
    ``wrong_issuer``, ``bad_signature``, ``unknown_key``, ``inactive``, ``unknown_key_name``
    ...; by default ``missing`` without ``error``, ``malformed`` for 400, else ``invalid``)."""

    def __init__(
        self,
        description: str,
        *,
        status: int = 401,
        error: str | None = "invalid_token",
        reason: str | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.error = error
        self.reason = reason or (
            "missing" if error is None else "malformed" if status == 400 else "invalid"
        )


class Unavailable(Exception):
    """The credential could not be checked: its authorization server is unreachable or
    answered nonsense (503; the client may retry, its token may well be good)."""
