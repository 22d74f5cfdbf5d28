"""Sealed ``requestState``: key rotation, per-purpose keys, tampering, expiry, principals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from mcp_host.errors import ProtocolError
from mcp_host.protocol.sealed_state import (
    PURPOSE_PRINCIPAL,
    PURPOSE_STATE,
    StateSealer,
    hkdf_sha256,
)

OLD, NEW, OTHER = b"old-secret-" + b"o" * 24, b"new-secret-" + b"n" * 24, b"other-" + b"x" * 30
PARAMS = {"name": "ask_name", "arguments": {"a": 1}}
ALICE = "authorization-sha256:" + "a" * 64
MALLORY = "authorization-sha256:" + "m" * 64


def seal(sealer: StateSealer, principal: str | None = ALICE, **answers: Any) -> str:
    return sealer.seal(method="tools/call", params=PARAMS, principal=principal, answers=answers)


def unseal(sealer: StateSealer, token: object, principal: str | None = ALICE) -> dict[str, Any]:
    return sealer.unseal(token, method="tools/call", params=PARAMS, principal=principal)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def refused(sealer: StateSealer, token: object, principal: str | None = ALICE) -> str:
    with pytest.raises(ProtocolError) as info:
        unseal(sealer, token, principal)
    assert info.value.code == -32602
    return info.value.message


# ------------------------------------------------------------------------------------ HKDF


def test_hkdf_matches_rfc5869_test_case_1() -> None:
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
        salt=bytes.fromhex("000102030405060708090a0b0c"),
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_refuses_impossible_lengths() -> None:
    with pytest.raises(ValueError, match="cannot produce"):
        hkdf_sha256(b"k", b"i", length=255 * 32 + 1)
    with pytest.raises(ValueError, match="cannot produce"):
        hkdf_sha256(b"k", b"i", length=0)


def test_a_sealer_needs_a_secret() -> None:
    for bad in ([], [b""], b""):
        with pytest.raises(ValueError, match="at least one non-empty secret"):
            StateSealer(bad, 600)


# -------------------------------------------------------------------------------- rotation


def test_round_trip_with_one_secret_given_as_bytes() -> None:
    sealer = StateSealer(OLD, 600)
    assert unseal(sealer, seal(sealer, q0="yes")) == {"q0": "yes"}


def test_state_sealed_with_the_old_key_opens_while_it_is_second() -> None:
    token = seal(StateSealer([OLD], 600), q0="yes")
    rotated = StateSealer([NEW, OLD], 600)
    assert unseal(rotated, token) == {"q0": "yes"}


def test_new_states_are_sealed_with_the_first_key() -> None:
    token = seal(StateSealer([NEW, OLD], 600), q0="yes")
    assert unseal(StateSealer([NEW], 600), token) == {"q0": "yes"}
    assert "integrity check failed" in refused(StateSealer([OLD], 600), token)


def test_state_sealed_with_a_removed_key_is_refused() -> None:
    token = seal(StateSealer([OLD], 600))
    message = refused(StateSealer([NEW], 600), token)
    assert "integrity check failed" in message
    assert "no longer holds" in message


def test_the_principal_binding_survives_rotation() -> None:
    token = seal(StateSealer([OLD], 600), principal=ALICE)
    rotated = StateSealer([NEW, OLD], 600)
    assert unseal(rotated, token, ALICE) == {}
    assert "different caller" in refused(rotated, token, MALLORY)
    assert "different caller" in refused(rotated, token, None)


# ----------------------------------------------------------------------- purpose separation


def test_no_secret_is_used_as_a_key_directly() -> None:
    """A state MACed with the raw secret (the old scheme) or with the secret's principal-tag
    key is refused: only the requestState key of the secret opens."""
    genuine = seal(StateSealer([OLD], 600))
    body = unb64(genuine.split(".")[0])
    for key in (OLD, hkdf_sha256(OLD, PURPOSE_PRINCIPAL)):
        forged = f"{b64(body)}.{b64(hmac.new(key, body, hashlib.sha256).digest())}"
        assert "integrity check failed" in refused(StateSealer([OLD], 600), forged)
    right = hkdf_sha256(OLD, PURPOSE_STATE)
    remade = f"{b64(body)}.{b64(hmac.new(right, body, hashlib.sha256).digest())}"
    assert remade == genuine


def test_the_purposes_derive_different_keys() -> None:
    keys = {hkdf_sha256(OLD, PURPOSE_STATE), hkdf_sha256(OLD, PURPOSE_PRINCIPAL), OLD}
    assert len(keys) == 3
    assert hkdf_sha256(OLD, PURPOSE_STATE) != hkdf_sha256(NEW, PURPOSE_STATE)


def test_the_principal_tag_is_keyed_by_its_own_purpose() -> None:
    sealer = StateSealer([OLD], 600)
    tag = sealer.principal_tag(ALICE)
    expected = hmac.new(hkdf_sha256(OLD, PURPOSE_PRINCIPAL), ALICE.encode(), hashlib.sha256)
    assert tag == expected.hexdigest()[:32]
    state_keyed = hmac.new(hkdf_sha256(OLD, PURPOSE_STATE), ALICE.encode(), hashlib.sha256)
    assert tag != state_keyed.hexdigest()[:32]
    assert sealer.principal_tag(None) is None
    assert ALICE not in json.dumps(unb64(seal(sealer).split(".")[0]).decode())
    assert StateSealer([NEW], 600).principal_tag(ALICE) != tag


# ------------------------------------------------------------------- tamper, expiry, replay


@pytest.mark.parametrize(
    "token",
    ["not-a-state", "a.b.c", "", "%%%.%%%", 42, None, ["x"]],
)
def test_garbage_is_refused(token: object) -> None:
    message = refused(StateSealer([NEW, OLD], 600), token)
    assert message.startswith("Invalid requestState")


def test_a_changed_body_is_refused() -> None:
    sealer = StateSealer([NEW, OLD], 600)
    body, mac = seal(sealer, q0="no").split(".")
    payload = json.loads(unb64(body))
    payload["a"] = {"q0": "yes"}
    altered = b64(json.dumps(payload, separators=(",", ":")).encode())
    assert "integrity check failed" in refused(sealer, f"{altered}.{mac}")


def test_a_validly_macd_body_that_is_not_a_state_is_refused() -> None:
    """Defence in depth: even with the key, a body that is not a JSON object is refused."""
    key = hkdf_sha256(OLD, PURPOSE_STATE)
    for body in (b"[1,2]", b"not json", b'{"e":"soon"}'):
        token = f"{b64(body)}.{b64(hmac.new(key, body, hashlib.sha256).digest())}"
        assert refused(StateSealer([OLD], 600), token).startswith("Invalid requestState")


def test_expired_state_is_refused_under_every_key() -> None:
    for keys in ([OLD], [NEW, OLD]):
        token = seal(StateSealer(keys, -1))
        assert "expired" in refused(StateSealer([NEW, OLD], 600), token)


def test_state_for_another_request_is_refused() -> None:
    sealer = StateSealer([OLD], 600)
    token = seal(sealer)
    with pytest.raises(ProtocolError, match="different request"):
        sealer.unseal(token, method="prompts/get", params=PARAMS, principal=ALICE)
    with pytest.raises(ProtocolError, match="different request"):
        sealer.unseal(token, method="tools/call", params={"name": "x"}, principal=ALICE)


def test_replay_from_another_principal_is_refused() -> None:
    sealer = StateSealer([NEW, OLD], 600)
    assert "different caller" in refused(sealer, seal(sealer, principal=ALICE), MALLORY)
    assert "different caller" in refused(sealer, seal(sealer, principal=ALICE), None)
    assert "different caller" in refused(sealer, seal(sealer, principal=None), MALLORY)
    assert unseal(sealer, seal(sealer, principal=None), None) == {}


def test_expiry_is_in_the_future_by_the_ttl() -> None:
    token = seal(StateSealer([OLD], 600))
    payload = json.loads(unb64(token.split(".")[0]))
    assert time.time() + 590 < payload["e"] <= time.time() + 600
