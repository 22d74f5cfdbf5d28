"""The HTTP transports: Streamable HTTP (both eras) and the 2024-11-05 HTTP+SSE transport."""

from .asgi import create_app
from .runner import serve_http

__all__ = ["create_app", "serve_http"]
