"""A real authorization server for the authentication tests: node-oidc-provider (see
authserver/server.mjs), started once per test session on a free loopback port, signing with
a key this session made (so the negative tests can also sign what that server never would)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.transports.http.conftest import start, stop

HERE = Path(__file__).parent
SERVER = HERE / "authserver"
PINNED_NODE = Path(__file__).parents[3] / "interop" / "node_modules" / ".bin" / "node"
INTROSPECTION = ("mcp-host", "introspection-secret-0123456789")
MACHINE_SECRET = "machine-secret-0123456789"
KID = "test-key-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class AuthServer:
    issuer: str
    private_key: rsa.RSAPrivateKey

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    def token(self, resource: str, scope: str = "tools:read", client: str = "machine") -> str:
        """An access token from the server (client credentials grant) for ``resource``."""
        answer = httpx.post(
            self.token_endpoint,
            data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
            auth=(client, MACHINE_SECRET),
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def revoke(self, token: str, client: str = "machine-opaque") -> None:
        answer = httpx.post(
            f"{self.issuer}/token/revocation",
            data={"token": token, "token_type_hint": "access_token"},
            auth=(client, MACHINE_SECRET),
        )
        assert answer.status_code == 200, answer.text

    def sign(
        self,
        resource: str,
        *,
        key: Any = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed by this session (with the server's own key unless ``key``)."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": "alice",
            "aud": resource,
            "iat": now,
            "exp": now + 300,
            "scope": "tools:read",
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload,
            self.private_key if key is None else key,
            algorithm="RS256",
            headers={"kid": KID, **(headers or {})},
        )


@pytest.fixture(scope="session")
def authserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    node = str(PINNED_NODE) if PINNED_NODE.exists() else shutil.which("node")
    assert node, "node is needed for the authorization server of the authentication tests"
    assert (SERVER / "node_modules" / "oidc-provider").is_dir(), (
        "run: npm ci --prefix tests/transports/http/auth/authserver (tox -e test does)"
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.pop("key_ops", None)
    jwk.update(kid=KID, alg="RS256", use="sig")
    key_file = tmp_path_factory.mktemp("authserver") / "key.json"
    key_file.write_text(json.dumps(jwk))
    port = free_port()
    proc = subprocess.Popen(
        [node, str(SERVER / "server.mjs"), str(port), str(key_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening "), "the authorization server did not start"
    try:
        yield AuthServer(f"http://127.0.0.1:{port}", key)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


class Documents:
    """A stand-in issuer for what the real one will not do on demand (rotate its keys, name
    another issuer in its metadata): JSON documents by path on a loopback port, changeable
    while it serves, with a count of requests per path."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        self.documents: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        documents, hits = self.documents, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] = hits.get(self.path, 0) + 1
                body = json.dumps(documents[self.path]).encode() if self.path in documents else b""
                self.send_response(200 if body else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return jwk


@pytest.fixture
def documents() -> Iterator[Documents]:
    served = Documents()
    yield served
    served.close()


@contextmanager
def serving_host(directory: Path, config: Callable[[str], str], **env: str) -> Iterator[str]:
    """A real ``mcp-host serve --transport http`` on a free loopback port, configured by
    ``config(resource)`` (the TOML text, given the MCP endpoint's URL); yields that URL and
    checks that the host exits cleanly."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    path = directory / "mcp-host.toml"
    path.write_text(config(resource))
    proc, url = start(
        "--transport", "http", "--config", str(path), MCP_HOST_HTTP_PORT=str(port), **env
    )
    assert url == resource
    try:
        yield url
    finally:
        stop(proc)
    assert proc.returncode == 0
