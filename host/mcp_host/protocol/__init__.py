"""The MCP protocol engine: JSON-RPC framing, both eras, dispatch; one for every transport."""

from .connection import Connection, Reply
from .engine import Engine
from .intercept import Interceptor, Proceed, RequestInfo, Target
from .settings import ProtocolSettings

__all__ = [
    "Connection",
    "Engine",
    "Interceptor",
    "Proceed",
    "ProtocolSettings",
    "Reply",
    "RequestInfo",
    "Target",
]
