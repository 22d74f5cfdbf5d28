"""Authentication of the HTTP transports (``[auth]``; see docs/auth.md): OAuth 2.1 access
tokens (JWT or introspected) and API keys, turned into a ``Principal`` before any work.

PyJWT, cryptography and httpx are imported only when an authorization server is configured.
"""

from .authenticator import ANONYMOUS, WELL_KNOWN, Authenticator, metadata_path, metadata_url
from .guard import CALLER, AuthGuard, MetadataEndpoint
from .refusals import Refused, Unavailable

__all__ = [
    "ANONYMOUS",
    "CALLER",
    "WELL_KNOWN",
    "AuthGuard",
    "Authenticator",
    "MetadataEndpoint",
    "Refused",
    "Unavailable",
    "metadata_path",
    "metadata_url",
]
