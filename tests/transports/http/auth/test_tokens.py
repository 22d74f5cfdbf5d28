"""Access tokens checked by the authenticator against a real authorization server.

Every token refused here is refused with a sentence, and never cached."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.abc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mcp_host.config import AuthSettings
from mcp_host.transports.http.auth import Authenticator, Refused

from .conftest import INTROSPECTION, AuthServer, Documents, public_jwk

pytestmark = pytest.mark.anyio

RESOURCE = "http://127.0.0.1:8000/mcp"


def settings(authserver: AuthServer, **issuer: Any) -> AuthSettings:
    return AuthSettings.model_validate(
        {
            "resource": RESOURCE,
            "oauth": [
                {
                    "issuer": authserver.issuer,
                    "client_id": INTROSPECTION[0],
                    "client_secret": INTROSPECTION[1],
                    "introspection_cache_seconds": 1,
                    **issuer,
                }
            ],
        }
    )


@pytest.fixture
async def auth(authserver: AuthServer) -> AsyncIterator[Authenticator]:
    authenticator = Authenticator(settings(authserver))
    yield authenticator
    await authenticator.aclose()


async def refused(auth: Authenticator, token: str) -> Refused:
    assert auth.tokens is not None
    before = len(auth.tokens.cache)
    with pytest.raises(Refused) as caught:
        await auth.authenticate(f"Bearer {token}")
    assert caught.value.status == 401
    assert caught.value.error == "invalid_token"
    assert len(auth.tokens.cache) == before, "a refused token was cached"
    return caught.value


async def test_a_token_from_the_server_for_this_resource_is_accepted(
    auth: Authenticator, authserver: AuthServer
) -> None:
    token = authserver.token(RESOURCE, scope="tools:read tools:write")
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal.kind == "oauth"
    assert principal.subject == "machine"
    assert principal.issuer == authserver.issuer
    assert principal.scopes == {"tools:read", "tools:write"}
    assert principal.claims["aud"] == RESOURCE
    # Cached by its digest: the second time asks nothing and gives the same principal.
    assert auth.tokens is not None
    assert len(auth.tokens.cache) == 1
    assert await auth.authenticate(f"Bearer {token}") is principal


async def test_a_token_minted_for_another_resource_is_refused(
    auth: Authenticator, authserver: AuthServer
) -> None:
    token = authserver.token("https://other.example.com/mcp")
    assert "was not issued for this server" in (await refused(auth, token)).description


async def test_an_expired_token_is_refused(auth: Authenticator, authserver: AuthServer) -> None:
    now = int(time.time())
    token = authserver.sign(RESOURCE, iat=now - 600, exp=now - 120)  # beyond the 30 s leeway
    assert "expired" in (await refused(auth, token)).description


async def test_a_token_within_the_leeway_of_its_expiry_is_accepted(
    auth: Authenticator, authserver: AuthServer
) -> None:
    now = int(time.time())
    token = authserver.sign(RESOURCE, iat=now - 600, exp=now - 5)
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal.subject == "alice"
    assert auth.tokens is not None
    assert len(auth.tokens.cache) == 0  # past its exp: not remembered


async def test_a_token_not_valid_yet_is_refused(
    auth: Authenticator, authserver: AuthServer
) -> None:
    token = authserver.sign(RESOURCE, nbf=int(time.time()) + 600)
    assert "not valid yet" in (await refused(auth, token)).description


async def test_a_token_of_another_issuer_is_refused(
    auth: Authenticator, authserver: AuthServer
) -> None:
    token = authserver.sign(RESOURCE, iss="https://evil.example.com")
    assert "not one this server trusts" in (await refused(auth, token)).description


async def test_a_token_with_a_bad_signature_is_refused(
    auth: Authenticator, authserver: AuthServer
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = authserver.sign(RESOURCE, key=other)  # the server's kid, another key
    assert "signature does not verify" in (await refused(auth, token)).description
    # And a real token with one byte of its signature changed.
    real = authserver.token(RESOURCE)
    head, body, signature = real.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert "signature" in (await refused(auth, f"{head}.{body}.{flipped}")).description


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_is_refused(auth: Authenticator, authserver: AuthServer) -> None:
    now = int(time.time())
    claims = {"iss": authserver.issuer, "sub": "alice", "aud": RESOURCE, "exp": now + 300}
    for alg in ("none", "None", "NONE"):
        for signature in ("", "c2ln"):  # unsigned, as RFC 7519 writes it, and with a tail
            token = f"{_b64({'alg': alg, 'kid': 'test-key-1'})}.{_b64(claims)}.{signature}"
            assert f"signed with '{alg}'" in (await refused(auth, token)).description


async def test_hs256_signed_with_the_public_key_is_refused(
    auth: Authenticator, authserver: AuthServer
) -> None:
    public_pem = authserver.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {"iss": authserver.issuer, "sub": "alice", "aud": RESOURCE, "exp": now + 300}
    head = _b64({"alg": "HS256", "typ": "JWT", "kid": "test-key-1"})
    body = _b64(claims)
    import hashlib
    import hmac

    mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    token = f"{head}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert "'HS256'" in (await refused(auth, token)).description


async def test_an_unknown_kid_refreshes_the_keys_at_a_bounded_rate(
    authserver: AuthServer,
) -> None:
    auth = Authenticator(settings(authserver, jwks_refresh_seconds=0.3))
    assert auth.tokens is not None
    issuer = auth.tokens.issuers[authserver.issuer]
    await auth.authenticate(f"Bearer {authserver.token(RESOURCE)}")
    assert issuer.key_fetches == 1
    made_up = authserver.sign(RESOURCE, headers={"kid": "made-up-0"})
    await refused(auth, made_up)  # just fetched: not again so soon
    assert issuer.key_fetches == 1
    await anyio.sleep(0.35)
    token = authserver.sign(RESOURCE, headers={"kid": "rotated-key-2"})
    assert "does not publish" in (await refused(auth, token)).description
    assert issuer.key_fetches == 2  # the unknown kid made it look again
    for n in range(20):  # a flood of made-up kids: no more fetches within the refresh time
        made_up = authserver.sign(RESOURCE, headers={"kid": f"made-up-{n}"})
        await refused(auth, made_up)
    assert issuer.key_fetches == 2
    await auth.aclose()


async def test_an_opaque_token_is_introspected(auth: Authenticator, authserver: AuthServer) -> None:
    token = authserver.token(RESOURCE, scope="tools:read", client="machine-opaque")
    assert token.count(".") == 0
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal.kind == "oauth"
    assert principal.subject == "machine-opaque"  # no sub: the client id
    assert principal.scopes == {"tools:read"}


async def test_a_revoked_token_is_refused_within_the_cache_time(
    auth: Authenticator, authserver: AuthServer
) -> None:
    token = authserver.token(RESOURCE, client="machine-opaque")
    await auth.authenticate(f"Bearer {token}")
    authserver.revoke(token)
    await anyio.sleep(1.05)  # introspection_cache_seconds = 1
    with pytest.raises(Refused) as caught:
        await auth.authenticate(f"Bearer {token}")
    assert "not active" in caught.value.description


async def test_an_opaque_token_for_another_resource_is_refused(
    auth: Authenticator, authserver: AuthServer
) -> None:
    token = authserver.token("https://other.example.com/mcp", client="machine-opaque")
    assert "not active" in (await refused(auth, token)).description


async def test_a_made_up_opaque_token_is_refused(auth: Authenticator) -> None:
    assert "not active" in (await refused(auth, "made-up-opaque-token")).description


async def test_many_distinct_bad_tokens_leave_no_trace(
    auth: Authenticator, authserver: AuthServer
) -> None:
    for n in range(200):
        await refused(auth, authserver.sign(RESOURCE, aud=f"https://other-{n}.example.com"))
    assert auth.tokens is not None
    assert len(auth.tokens.cache) == 0


async def test_the_cache_of_accepted_tokens_is_bounded(
    auth: Authenticator, authserver: AuthServer
) -> None:
    assert auth.tokens is not None
    auth.tokens.cache.size = 5
    for n in range(12):
        await auth.authenticate(f"Bearer {authserver.sign(RESOURCE, jti=str(n))}")
    assert len(auth.tokens.cache) == 5


async def test_scopes_from_an_scp_claim(auth: Authenticator, authserver: AuthServer) -> None:
    listed = authserver.sign(RESOURCE, scope=None, scp=["tools:read", "admin"])
    assert (await auth.authenticate(f"Bearer {listed}")).scopes == {"tools:read", "admin"}
    spaced = authserver.sign(RESOURCE, scope=None, scp="tools:write admin")
    assert (await auth.authenticate(f"Bearer {spaced}")).scopes == {"tools:write", "admin"}


async def test_the_audience_setting_overrides_the_resource(authserver: AuthServer) -> None:
    auth = Authenticator(settings(authserver, audience="api://mcp-host"))
    try:
        token = authserver.token("api://mcp-host")
        assert (await auth.authenticate(f"Bearer {token}")).subject == "machine"
        await refused(auth, authserver.token(RESOURCE))
    finally:
        await auth.aclose()


async def test_an_unreachable_issuer_is_unavailable_not_refused(authserver: AuthServer) -> None:
    from mcp_host.transports.http.auth import Unavailable

    from .conftest import free_port

    down = f"http://127.0.0.1:{free_port()}"
    auth = Authenticator(
        AuthSettings.model_validate({"resource": RESOURCE, "oauth": [{"issuer": down}]})
    )
    try:
        token = authserver.sign(RESOURCE, iss=down)
        with pytest.raises(Unavailable):
            await auth.authenticate(f"Bearer {token}")
    finally:
        await auth.aclose()


def test_the_library_refuses_what_the_validator_relies_on_it_to_refuse() -> None:
    """PyJWT with a fixed algorithm list never accepts another one (the HS/RS confusion)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": "x"}, key, algorithm="RS256")
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(token, key.public_key(), algorithms=["ES256"])


async def test_a_silent_issuer_does_not_hold_requests_carrying_api_keys(
    authserver: AuthServer,
) -> None:
    arrived = anyio.Event()
    held: list[Any] = []

    async def silent(stream: Any) -> None:  # accepts, reads, never answers
        async with stream:
            held.append(stream)
            arrived.set()
            await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    slow = f"http://127.0.0.1:{port}"
    auth = Authenticator(
        AuthSettings.model_validate(
            {
                "resource": RESOURCE,
                "oauth": [{"issuer": slow}],
                "api_keys": {"ci": {"key": "ci-key-0123456789abcdef"}},
                "http_timeout_seconds": 30,
            }
        )
    )
    outcome: list[object] = []

    async def token_request() -> None:
        try:
            await auth.authenticate(f"Bearer {authserver.sign(RESOURCE, iss=slow)}")
        except Exception as exc:  # pragma: no cover - cancelled before it ends
            outcome.append(exc)

    try:
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, silent)
            tg.start_soon(token_request)
            await arrived.wait()  # the token's check is now waiting on the silent issuer
            principal = await auth.authenticate("Bearer ci-key-0123456789abcdef")
            assert principal.subject == "ci"
            assert outcome == []  # the token's check is still waiting
            tg.cancel_scope.cancel()
    finally:
        await auth.aclose()


async def test_an_issuer_slower_than_the_time_limit_is_unavailable(
    authserver: AuthServer,
) -> None:
    from mcp_host.transports.http.auth import Unavailable

    async def silent(stream: Any) -> None:
        async with stream:
            await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    slow = f"http://127.0.0.1:{port}"
    auth = Authenticator(
        AuthSettings.model_validate(
            {"resource": RESOURCE, "oauth": [{"issuer": slow}], "http_timeout_seconds": 0.2}
        )
    )
    try:
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, silent)
            with pytest.raises(Unavailable) as caught:
                await auth.authenticate(f"Bearer {authserver.sign(RESOURCE, iss=slow)}")
            assert "did not answer within 0.2 s" in str(caught.value)
            tg.cancel_scope.cancel()
    finally:
        await auth.aclose()


async def test_a_given_jwks_uri_is_used_without_discovery(authserver: AuthServer) -> None:
    auth = Authenticator(settings(authserver, jwks_uri=f"{authserver.issuer}/jwks"))
    try:
        token = authserver.token(RESOURCE)
        assert (await auth.authenticate(f"Bearer {token}")).subject == "machine"
        assert auth.tokens is not None
        assert auth.tokens.issuers[authserver.issuer]._metadata is None  # never fetched
    finally:
        await auth.aclose()


def _sign(issuer: str, key: rsa.RSAPrivateKey, kid: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": "svc", "aud": RESOURCE, "exp": now + 300, "scope": "a"}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


async def test_a_rotated_key_is_fetched_and_accepted(documents: Documents) -> None:
    old = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    documents.documents["/.well-known/oauth-authorization-server"] = {
        "issuer": documents.url,
        "jwks_uri": f"{documents.url}/keys",
    }
    documents.documents["/keys"] = {"keys": [public_jwk(old, "old")]}
    auth = Authenticator(
        AuthSettings.model_validate(
            {
                "resource": RESOURCE,
                "oauth": [{"issuer": documents.url, "jwks_refresh_seconds": 0}],
            }
        )
    )
    try:
        assert (await auth.authenticate(f"Bearer {_sign(documents.url, old, 'old')}")).subject
        # The issuer rotates: a token under the new kid makes the host fetch the keys again.
        documents.documents["/keys"] = {"keys": [public_jwk(old, "old"), public_jwk(new, "new")]}
        principal = await auth.authenticate(f"Bearer {_sign(documents.url, new, 'new')}")
        assert principal.subject == "svc"
        assert documents.hits["/keys"] == 2
        assert documents.hits["/.well-known/oauth-authorization-server"] == 1
    finally:
        await auth.aclose()


async def test_metadata_naming_another_issuer_is_not_used(documents: Documents) -> None:
    from mcp_host.transports.http.auth import Unavailable

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for well_known in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ):
        documents.documents[well_known] = {
            "issuer": "https://attacker.example.com",
            "jwks_uri": f"{documents.url}/keys",
        }
    documents.documents["/keys"] = {"keys": [public_jwk(key, "k")]}
    auth = Authenticator(
        AuthSettings.model_validate({"resource": RESOURCE, "oauth": [{"issuer": documents.url}]})
    )
    try:
        with pytest.raises(Unavailable) as caught:
            await auth.authenticate(f"Bearer {_sign(documents.url, key, 'k')}")
        assert "names the issuer 'https://attacker.example.com'" in str(caught.value)
        assert "/keys" not in documents.hits
    finally:
        await auth.aclose()


async def test_a_key_embedded_in_the_token_header_is_ignored(
    auth: Authenticator, authserver: AuthServer
) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    embedded = public_jwk(attacker, "test-key-1")
    for header in ({"jwk": embedded}, {"jku": "https://attacker.example.com/jwks"}):
        token = authserver.sign(RESOURCE, key=attacker, headers=header)
        assert "signature does not verify" in (await refused(auth, token)).description
