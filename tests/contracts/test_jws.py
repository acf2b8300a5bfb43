from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.canonical import canonicalize
from contracts.errors import ContractError, RejectionCode
from contracts.ids import HUB_KID_RE, KID_RE
from contracts.jws import (
    MAX_ENVELOPE_BYTES,
    TYP_KEYSET,
    TYP_NOTICE,
    TYP_RECEIPT,
    TYP_REPORT,
    SignedEnvelope,
    digest,
    open_envelope,
    sign,
)
from contracts.keys import (
    b64url_decode,
    b64url_encode,
    generate_private_key,
    load_private_key_pem,
    private_key_from_seed,
    private_key_to_pem,
    public_jwk,
    public_key_from_jwk,
)
from tests.contracts.conftest import PREF_KEY, PREF_KID, notice


def test_sign_produces_the_contract_wire_form() -> None:
    envelope = sign(notice(), typ=TYP_NOTICE, kid=PREF_KID, private_key=PREF_KEY)
    protected = base64.urlsafe_b64decode(envelope.protected + "==")
    assert protected == b'{"alg":"Ed25519","kid":"pref-23/2027a","typ":"todoke-notice+jws"}'
    assert envelope.header() == {"alg": "Ed25519", "kid": PREF_KID, "typ": TYP_NOTICE}
    assert envelope.payload_bytes() == canonicalize(notice())
    assert "=" not in envelope.protected + envelope.payload + envelope.signature
    signing_input = f"{envelope.protected}.{envelope.payload}".encode()
    raw = base64.urlsafe_b64decode(envelope.signature + "==")
    PREF_KEY.public_key().verify(raw, signing_input)  # raises if wrong
    assert set(envelope.model_dump()) == {"protected", "payload", "signature"}


def test_typ_constants() -> None:
    assert (TYP_NOTICE, TYP_KEYSET, TYP_RECEIPT, TYP_REPORT) == (
        "todoke-notice+jws",
        "todoke-keyset+jws",
        "todoke-receipt+jws",
        "todoke-report+jws",
    )
    assert MAX_ENVELOPE_BYTES == 65536


def test_digest_is_lowercase_hex_sha256() -> None:
    assert digest(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert digest(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_size_is_the_flattened_json_length() -> None:
    envelope = sign(notice(), typ=TYP_NOTICE, kid=PREF_KID, private_key=PREF_KEY)
    wire = json.dumps(envelope.model_dump(), separators=(",", ":")).encode()
    assert envelope.size() == len(wire)


@pytest.mark.parametrize(
    ("typ", "kid"),
    [
        ("todoke-other+jws", PREF_KID),
        (TYP_NOTICE, "hub-aichi/root1"),
        (TYP_KEYSET, PREF_KID),
        (TYP_NOTICE, "x"),
    ],
)
def test_sign_refuses_unknown_typ_or_malformed_kid(typ: str, kid: str) -> None:
    with pytest.raises(ValueError):
        sign(notice(), typ=typ, kid=kid, private_key=PREF_KEY)


def test_sign_refuses_floats() -> None:
    with pytest.raises(ValueError):
        sign({"x": 1.5}, typ=TYP_NOTICE, kid=PREF_KID, private_key=PREF_KEY)


def test_envelope_is_closed_and_frozen() -> None:
    with pytest.raises(ValueError):
        SignedEnvelope.model_validate(
            {"protected": "a", "payload": "b", "signature": "c", "header": {}}
        )
    with pytest.raises(ValueError):
        SignedEnvelope.model_validate({"protected": 1, "payload": "b", "signature": "c"})


def test_payload_bytes_of_junk_is_bad_envelope() -> None:
    with pytest.raises(ContractError) as info:
        SignedEnvelope(protected="a", payload="a=", signature="a").payload_bytes()
    assert info.value.code is RejectionCode.BAD_ENVELOPE


def test_b64url_is_strict() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    for bad in ["-_8=", "+/8", "-_9", "a", "a b", "日本"]:
        with pytest.raises(ValueError):
            b64url_decode(bad)


def test_seeded_key_is_deterministic_and_matches_rfc8032_test_1() -> None:
    # RFC 8032 §7.1 TEST 1
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = private_key_from_seed(seed)
    assert public_jwk(key) == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url_encode(
            bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        ),
    }
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    with pytest.raises(ValueError):
        private_key_from_seed(b"short")


def test_pem_round_trip() -> None:
    key = generate_private_key()
    assert public_jwk(load_private_key_pem(private_key_to_pem(key))) == public_jwk(key)
    with pytest.raises(ValueError):
        load_private_key_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_jwk_round_trip_and_junk() -> None:
    jwk = public_jwk(PREF_KEY)
    assert isinstance(public_key_from_jwk(jwk), Ed25519PublicKey)
    for bad in [
        {**jwk, "kty": "EC"},
        {**jwk, "crv": "X25519"},
        {**jwk, "x": jwk["x"][:-2]},
        {**jwk, "x": jwk["x"] + "="},
        {**jwk, "d": jwk["x"]},
        {"kty": "OKP", "crv": "Ed25519"},
    ]:
        with pytest.raises(ContractError) as info:
            public_key_from_jwk(bad)
        assert info.value.code is RejectionCode.BAD_ENVELOPE


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
def test_b64url_decode_accepts_exactly_the_encodings_of_bytes(text: str) -> None:
    """One byte string, one accepted text: decoding succeeds iff re-encoding gives ``text``."""

    if len(text) % 4 == 1:
        with pytest.raises(ValueError):
            b64url_decode(text)
        return
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) == text:
        assert b64url_decode(text) == data
    else:
        with pytest.raises(ValueError):
            b64url_decode(text)


def test_a_checked_header_is_remembered_for_its_typ_and_kid_pattern_only() -> None:
    """Step 1 remembers accepted headers by their exact text: the same header under another
    typ or kid pattern is checked again and refused; a refused header is refused every time."""
    envelope = sign(notice(), typ=TYP_NOTICE, kid=PREF_KID, private_key=PREF_KEY)
    assert open_envelope(envelope, typ=TYP_NOTICE, kid_re=KID_RE).kid == PREF_KID
    assert open_envelope(envelope, typ=TYP_NOTICE, kid_re=KID_RE).kid == PREF_KID
    for typ, kid_re in ((TYP_RECEIPT, KID_RE), (TYP_NOTICE, HUB_KID_RE)):
        with pytest.raises(ContractError) as refused:
            open_envelope(envelope, typ=typ, kid_re=kid_re)
        assert refused.value.code is RejectionCode.BAD_ENVELOPE
    none_alg = SignedEnvelope(
        protected=b64url_encode(b'{"alg":"none","kid":"pref-23/2027a","typ":"todoke-notice+jws"}'),
        payload=envelope.payload,
        signature=envelope.signature,
    )
    for _ in range(2):
        with pytest.raises(ContractError) as refused:
            open_envelope(none_alg, typ=TYP_NOTICE, kid_re=KID_RE)
        assert refused.value.code is RejectionCode.BAD_ALG
