"""The committed vectors: recomputed byte for byte, checked independently of our own code."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.canonical import canonicalize
from contracts.jws import SignedEnvelope
from contracts.keyset import KeySet
from contracts.vectors import VECTORS_FILE, build_vectors, render
from contracts.verify import KeySetLookup, verify_keyset, verify_notice, verify_receipt

VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text("utf-8"))
ALL = [*VECTORS["notices"], VECTORS["keyset"], VECTORS["receipt"]]
KEYS = {key["kid"]: key for key in VECTORS["keys"]}


def unb64(text: str) -> bytes:
    assert "=" not in text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_file_is_exactly_what_the_generator_makes() -> None:
    assert VECTORS_FILE.read_text("utf-8") == render(build_vectors()), (
        "run: python -m contracts.vectors"
    )


def test_there_are_enough_notice_vectors() -> None:
    names = [v["name"] for v in VECTORS["notices"]]
    assert len(names) >= 4
    assert {"japanese-alert", "emoji-update", "escapes-cancel", "large-integers"} <= set(names)


@pytest.mark.parametrize("vector", ALL, ids=lambda v: v["name"])
def test_vector_bytes_are_consistent(vector: dict[str, Any]) -> None:
    canonical = bytes.fromhex(vector["canonical_hex"])
    assert canonical == vector["canonical"].encode("utf-8")
    assert canonicalize(vector["input"]) == canonical
    assert canonicalize(json.loads(vector["input_json"])) == canonical
    assert vector["input_json"].encode("ascii")  # the non-canonical text form is pure ASCII
    assert unb64(vector["payload"]) == canonical
    assert hashlib.sha256(canonical).hexdigest() == vector["digest"]


@pytest.mark.parametrize("vector", ALL, ids=lambda v: v["name"])
def test_signatures_verify_independently(vector: dict[str, Any]) -> None:
    key = KEYS[vector["kid"]]
    seed = bytes.fromhex(key["seed_hex"])
    public_raw = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert unb64(key["jwk"]["x"]) == public_raw
    header = json.loads(unb64(vector["protected"]))
    assert header["alg"] == "Ed25519" and header["kid"] == vector["kid"]
    Ed25519PublicKey.from_public_bytes(public_raw).verify(
        unb64(vector["signature"]), f"{vector['protected']}.{vector['payload']}".encode("ascii")
    )


def test_literal_canonical_forms() -> None:
    by_name = {v["name"]: v for v in VECTORS["notices"]}
    escapes = by_name["escapes-cancel"]["canonical"].encode("utf-8")
    assert b'"headline":"quote \\" backslash \\\\ slash / tab\\t"' in escapes
    assert (
        b'"body":"ctl \\u0001 \\u001f nl\\n cr\\r bs\\b ff\\f del\x7f ls\xe2\x80\xa8 ps\xe2\x80\xa9 bom\xef\xbb\xbf \xc3\xa9"'
        in escapes
    )
    emoji = by_name["emoji-update"]["canonical"].encode("utf-8")
    family = b"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
    assert b'"headline":"Family event ' + family + b'"' in emoji
    assert b'"sent":"2027-04-02T10:30:00.250Z"' in emoji
    large = by_name["large-integers"]["canonical"]
    assert '"revision":9007199254740991,' in large
    assert '"child_age_months":{"max":9007199254740991,"min":0}' in large
    japanese = by_name["japanese-alert"]["canonical"]
    assert japanese.startswith(
        '{"action":{"closes":"2027-05-31T17:00:00+09:00","how_to_apply":"お住まい'
    )
    assert japanese.endswith(
        '"revision":1,"schema":"todoke.notice/1","sent":"2027-04-01T09:00:00+09:00","status":"Actual"}'
    )
    assert VECTORS["keyset"]["protected"] == (
        "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiaHViLWFpY2hpL3Jvb3QxIiwidHlwIjoidG9kb2tlLWtleXNldCtqd3MifQ"
    )


def test_vectors_pass_the_verifiers() -> None:
    now = datetime(2027, 4, 3, tzinfo=UTC)  # after every vector's sent, before valid_until
    hub = KEYS["hub-aichi/root1"]
    roots = {
        hub["kid"]: Ed25519PrivateKey.from_private_bytes(
            bytes.fromhex(hub["seed_hex"])
        ).public_key()
    }

    def envelope(vector: dict[str, Any]) -> SignedEnvelope:
        return SignedEnvelope(
            protected=vector["protected"], payload=vector["payload"], signature=vector["signature"]
        )

    keyset = verify_keyset(envelope(VECTORS["keyset"]), root_keys=roots, now=now)
    assert isinstance(keyset, KeySet)
    receipt = verify_receipt(envelope(VECTORS["receipt"]), root_keys=roots)
    assert receipt.digest == VECTORS["notices"][0]["digest"]
    for vector in VECTORS["notices"]:
        result = verify_notice(
            envelope(vector), keys=KeySetLookup(keyset), received_at=now, now=now
        )
        assert result.digest == vector["digest"]
