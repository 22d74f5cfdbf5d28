"""The authenticated variants of the HTTP benchmark: mcp-host with ``[auth]``, called with an
API key or with a JWT access token whose issuer's keys it has fetched and cached.

The issuer is a small stdlib HTTP server in the benchmark process (metadata and a JWK set,
nothing per call: the host fetches the keys once), signing with a key made at start. The
token is the same for every call, as a client's is between refreshes, so what the figure
measures beside the unauthenticated one is the per-request cost with a warm cache.
"""

from __future__ import annotations

import json
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from tempfile import mkdtemp

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

API_KEY = "bench-api-key-0123456789abcdef"
KID = "bench-key"


class Issuer:
    """Metadata and JWKS on a free loopback port, served from a daemon thread."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=KID, alg="RS256", use="sig")
        documents: dict[str, bytes] = {}
        handler = _handler(documents)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        documents["/.well-known/oauth-authorization-server"] = json.dumps(
            {"issuer": self.url, "jwks_uri": f"{self.url}/jwks"}
        ).encode()
        documents["/jwks"] = json.dumps({"keys": [public]}).encode()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, resource: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": "bench",
            "aud": resource,
            "iat": now,
            "exp": now + 3600,
            "scope": "tools:read",
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})


def _handler(documents: dict[str, bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@cache
def issuer() -> Issuer:
    return Issuer()


def resource(port: int) -> str:
    return f"http://127.0.0.1:{port}/mcp"


def config_file(port: int) -> Path:
    """An ``mcp-host.toml`` whose ``[auth]`` trusts the issuer and the benchmark's API key."""
    path = Path(mkdtemp(prefix="mcp-host-bench-auth-")) / "mcp-host.toml"
    path.write_text(
        f'[auth]\nresource = "{resource(port)}"\n\n'
        f'[[auth.oauth]]\nissuer = "{issuer().url}"\n\n'
        '[auth.api_keys.bench]\nkey = { env = "MCP_HOST_BENCH_API_KEY" }\n'
        'scopes = ["tools:read"]\n'
    )
    return path


def authorization(scenario: str, port: int) -> str | None:
    """The Authorization header value a scenario's requests carry."""
    if scenario.endswith("-apikey"):
        return f"Bearer {API_KEY}"
    if scenario.endswith("-jwt"):
        return f"Bearer {issuer().token(resource(port))}"
    return None
