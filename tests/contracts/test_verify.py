"""Every code verify_notice can return, provoked through the public API, plus the step order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.canonical import canonicalize
from contracts.errors import ContractError, RejectionCode
from contracts.jws import TYP_NOTICE, TYP_RECEIPT, SignedEnvelope, digest, sign, sign_bytes
from contracts.keys import b64url_encode
from contracts.verify import KeySetLookup, VerifiedNotice, verify_notice
from tests.contracts.conftest import (
    GOV_KEY,
    GOV_KID,
    NOW,
    OTHER_KEY,
    PREF_KEY,
    PREF_KID,
    notice,
    sign_notice,
)

RECEIVED = NOW


def verify(
    envelope: SignedEnvelope,
    keys: KeySetLookup,
    *,
    received_at: datetime = RECEIVED,
    now: datetime = NOW,
) -> VerifiedNotice:
    return verify_notice(envelope, keys=keys, received_at=received_at, now=now)


def rejects(
    code: RejectionCode, envelope: SignedEnvelope, keys: KeySetLookup, **kw: datetime
) -> str:
    with pytest.raises(ContractError) as info:
        verify(envelope, keys, **kw)
    assert info.value.code is code, info.value.message
    return info.value.message


def with_header(header: bytes, payload: bytes, key: Ed25519PrivateKey = PREF_KEY) -> SignedEnvelope:
    return sign_bytes(protected=header, payload=payload, private_key=key)


def header(**members: object) -> bytes:
    return json.dumps({"alg": "Ed25519", "kid": PREF_KID, "typ": TYP_NOTICE, **members}).encode()


def flip(text: str, index: int) -> str:
    chars = list(text)
    chars[index] = "B" if chars[index] != "B" else "C"
    return "".join(chars)


def test_valid_notice_verifies(keys: KeySetLookup) -> None:
    value = notice()
    envelope = sign_notice(value)
    result = verify(envelope, keys)
    assert result.kid == PREF_KID
    assert result.payload == canonicalize(value)
    assert result.digest == digest(canonicalize(value))
    assert result.notice.publisher == "pref-23"
    assert result.notice.to_payload() == value


def test_header_in_any_member_order_is_accepted(keys: KeySetLookup) -> None:
    protected = b'{ "typ": "todoke-notice+jws", "kid": "pref-23/2027a", "alg": "Ed25519" }'
    assert verify(with_header(protected, canonicalize(notice())), keys).kid == PREF_KID


# --- TOO_LARGE -----------------------------------------------------------------------------


def test_envelope_over_64_kib_is_too_large(keys: KeySetLookup) -> None:
    envelope = sign_notice(notice())
    big = envelope.model_copy(update={"payload": envelope.payload + "A" * 65536})
    rejects(RejectionCode.TOO_LARGE, big, keys)


# --- step 1: BAD_ENVELOPE / BAD_ALG --------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "HS256", "EdDSA", "ed25519", "Ed25519 ", "ES256", None, 0])
def test_any_alg_but_ed25519_is_bad_alg(keys: KeySetLookup, alg: object) -> None:
    rejects(RejectionCode.BAD_ALG, with_header(header(alg=alg), canonicalize(notice())), keys)


def test_alg_none_without_signature_is_bad_alg(keys: KeySetLookup) -> None:
    protected = b64url_encode(header(alg="none"))
    envelope = SignedEnvelope(
        protected=protected, payload=b64url_encode(canonicalize(notice())), signature=""
    )
    rejects(RejectionCode.BAD_ALG, envelope, keys)


@pytest.mark.parametrize(
    "protected",
    [
        b"not json",
        b"[1,2]",
        b'{"alg":"Ed25519","kid":"pref-23/2027a"}',
        b'{"alg":"Ed25519","kid":"pref-23/2027a","typ":"todoke-notice+jws","crit":["x"]}',
        b'{"alg":"Ed25519","kid":"pref-23/2027a","typ":"todoke-notice+jws","jwk":{}}',
        b'{"alg":"Ed25519","kid":"pref-23/2027a","typ":"todoke-receipt+jws"}',
        b'{"alg":"Ed25519","kid":"pref-23/2027a","typ":"JWT"}',
        b'{"alg":"Ed25519","kid":"pref-23","typ":"todoke-notice+jws"}',
        b'{"alg":"Ed25519","kid":"hub-aichi/root1","typ":"todoke-notice+jws"}',
        b'{"alg":"Ed25519","kid":"pref-99/x","typ":"todoke-notice+jws"}',
        b'{"alg":"Ed25519","kid":7,"typ":"todoke-notice+jws"}',
        b'{"alg":"Ed25519","kid":"pref-23/2027a","kid":"pref-23/2027a","typ":"todoke-notice+jws"}',
        b'\xff\xfe{"alg":"Ed25519"}',
    ],
)
def test_malformed_header_is_bad_envelope(keys: KeySetLookup, protected: bytes) -> None:
    rejects(RejectionCode.BAD_ENVELOPE, with_header(protected, canonicalize(notice())), keys)


@pytest.mark.parametrize("field", ["protected", "payload", "signature"])
@pytest.mark.parametrize("junk", ["has=padding", "not+url/safe", "sp ace", "A", "日本"])
def test_bad_base64url_is_bad_envelope(keys: KeySetLookup, field: str, junk: str) -> None:
    envelope = sign_notice(notice())
    rejects(RejectionCode.BAD_ENVELOPE, envelope.model_copy(update={field: junk}), keys)


def test_padded_base64url_is_bad_envelope(keys: KeySetLookup) -> None:
    envelope = sign_notice(notice())
    for field in ("protected", "signature"):
        text = getattr(envelope, field)
        padded = text + "=" * (-len(text) % 4)
        assert padded != text
        rejects(RejectionCode.BAD_ENVELOPE, envelope.model_copy(update={field: padded}), keys)


def test_receipt_passed_off_as_notice_is_bad_envelope(keys: KeySetLookup) -> None:
    envelope = sign(notice(), typ=TYP_RECEIPT, kid="hub-aichi/root1", private_key=PREF_KEY)
    rejects(RejectionCode.BAD_ENVELOPE, envelope, keys)


# --- step 2: UNKNOWN_KEY -------------------------------------------------------------------


def test_unknown_kid_is_unknown_key(keys: KeySetLookup) -> None:
    envelope = sign_notice(notice(), kid="pref-23/2099z", key=OTHER_KEY)
    rejects(RejectionCode.UNKNOWN_KEY, envelope, keys)


def test_key_in_header_is_never_used(keys: KeySetLookup) -> None:
    # A well-formed header never carries a key; one that tries is refused before any lookup.
    protected = header(jwk={"kty": "OKP", "crv": "Ed25519", "x": "A" * 43})
    rejects(
        RejectionCode.BAD_ENVELOPE, with_header(protected, canonicalize(notice()), OTHER_KEY), keys
    )


# --- step 3: KEY_REVOKED -------------------------------------------------------------------

GOV_NOTICE = notice(publisher="gov-cfa", area=["00"])  # gov-cfa/k1 is revoked at 2027-04-01T00:00Z


def test_revoked_before_received_at_is_key_revoked(keys: KeySetLookup) -> None:
    envelope = sign_notice(GOV_NOTICE, kid=GOV_KID, key=GOV_KEY)
    rejects(
        RejectionCode.KEY_REVOKED,
        envelope,
        keys,
        received_at=datetime(2027, 4, 1, 0, 0, 1, tzinfo=UTC),
    )


def test_revoked_exactly_at_received_at_is_key_revoked(keys: KeySetLookup) -> None:
    envelope = sign_notice(GOV_NOTICE, kid=GOV_KID, key=GOV_KEY)
    rejects(RejectionCode.KEY_REVOKED, envelope, keys, received_at=datetime(2027, 4, 1, tzinfo=UTC))


def test_revoked_after_received_at_is_still_valid(keys: KeySetLookup) -> None:
    value = notice(publisher="gov-cfa", area=["00"], sent="2027-03-31T08:00:00+09:00")
    envelope = sign_notice(value, kid=GOV_KID, key=GOV_KEY)
    result = verify(envelope, keys, received_at=datetime(2027, 3, 31, 23, 59, tzinfo=UTC))
    assert result.kid == GOV_KID


def test_revocation_is_checked_before_the_signature(keys: KeySetLookup) -> None:
    envelope = sign_notice(GOV_NOTICE, kid=GOV_KID, key=OTHER_KEY)  # also badly signed
    rejects(RejectionCode.KEY_REVOKED, envelope, keys, received_at=NOW)


# --- step 4: BAD_SIGNATURE -----------------------------------------------------------------


@pytest.mark.parametrize("field", ["payload", "signature"])
def test_flipped_byte_is_bad_signature(keys: KeySetLookup, field: str) -> None:
    envelope = sign_notice(notice())
    text = getattr(envelope, field)
    rejects(RejectionCode.BAD_SIGNATURE, envelope.model_copy(update={field: flip(text, 10)}), keys)


def test_flipped_byte_in_header_is_refused(keys: KeySetLookup) -> None:
    # Changing the header's bytes breaks its JSON or a member (BAD_ENVELOPE, BAD_ALG,
    # UNKNOWN_KEY) or, if it stays valid, the signature; an equivalent re-encoding of the
    # header is never accepted either.
    envelope = sign_notice(notice())
    for index in range(len(envelope.protected) - 1):
        with pytest.raises(ContractError) as info:
            verify(envelope.model_copy(update={"protected": flip(envelope.protected, index)}), keys)
        assert info.value.code in {
            RejectionCode.BAD_ENVELOPE,
            RejectionCode.BAD_ALG,
            RejectionCode.UNKNOWN_KEY,
            RejectionCode.BAD_SIGNATURE,
        }
    respaced = b64url_encode(header())  # same members, different bytes
    rejects(RejectionCode.BAD_SIGNATURE, envelope.model_copy(update={"protected": respaced}), keys)


def test_signature_by_another_key_is_bad_signature(keys: KeySetLookup) -> None:
    rejects(RejectionCode.BAD_SIGNATURE, sign_notice(notice(), key=OTHER_KEY), keys)


def test_truncated_signature_is_bad_signature(keys: KeySetLookup) -> None:
    envelope = sign_notice(notice())
    rejects(
        RejectionCode.BAD_SIGNATURE,
        envelope.model_copy(update={"signature": envelope.signature[:40]}),
        keys,
    )


# --- step 5: NOT_CANONICAL -----------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps(notice(), ensure_ascii=False).encode(),  # spaces, insertion order
        json.dumps(
            notice(), ensure_ascii=False, sort_keys=True, separators=(",", ":"), indent=0
        ).encode(),
        json.dumps(
            dict(reversed(notice().items())), ensure_ascii=False, separators=(",", ":")
        ).encode(),
        json.dumps(
            notice(), sort_keys=True, separators=(",", ":")
        ).encode(),  # \\u escapes of 日本語
        canonicalize(notice()) + b"\n",
        canonicalize(notice()).replace(b'"revision":1', b'"revision":1.0'),
    ],
)
def test_correctly_signed_non_canonical_payload_is_not_canonical(
    keys: KeySetLookup, payload: bytes
) -> None:
    rejects(RejectionCode.NOT_CANONICAL, with_header(header(), payload), keys)


def test_non_json_payload_is_not_canonical(keys: KeySetLookup) -> None:
    rejects(RejectionCode.NOT_CANONICAL, with_header(header(), b"\x00garbage"), keys)


# --- step 6: SCHEMA_INVALID ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        notice(extra_member="x"),
        notice(revision=None),
        notice(sent="2027-04-01T09:00:00"),
        notice(sent="2027-04-01 09:00:00+09:00"),
        notice(revision="1"),
        notice(revision=True),
        notice(category="weather"),
        notice(area=[]),
        notice(area=["23"], audience={"name": "山田太郎"}),
        ["not", "an", "object"],
    ],
)
def test_schema_violation_is_schema_invalid(keys: KeySetLookup, value: object) -> None:
    rejects(RejectionCode.SCHEMA_INVALID, with_header(header(), canonicalize(value)), keys)


def test_canonical_float_is_schema_invalid(keys: KeySetLookup) -> None:
    payload = canonicalize(notice()).replace(b'"revision":1', b'"revision":1.5')
    rejects(RejectionCode.SCHEMA_INVALID, with_header(header(), payload), keys)


def test_integer_beyond_2_53_is_refused(keys: KeySetLookup) -> None:
    payload = canonicalize(notice()).replace(b'"revision":1', b'"revision":9007199254740992')
    rejects(RejectionCode.SCHEMA_INVALID, with_header(header(), payload), keys)


def test_sent_more_than_5_minutes_ahead_is_schema_invalid(keys: KeySetLookup) -> None:
    envelope = sign_notice(notice(sent="2027-04-01T09:36:00+09:00"))
    rejects(RejectionCode.SCHEMA_INVALID, envelope, keys, now=NOW)  # NOW is 09:30 JST
    ok = sign_notice(notice(sent="2027-04-01T09:35:00+09:00"))
    assert verify(ok, keys, now=NOW).kid == PREF_KID


# --- step 7: WRONG_PUBLISHER / KEY_NOT_VALID / SCOPE_DENIED --------------------------------


def test_publisher_other_than_the_keys_is_wrong_publisher(keys: KeySetLookup) -> None:
    rejects(RejectionCode.WRONG_PUBLISHER, sign_notice(notice(publisher="pref-24")), keys)


@pytest.mark.parametrize("sent", ["2026-12-31T23:59:59+09:00", "2028-01-01T00:00:00+09:00"])
def test_key_not_valid_at_sent_is_key_not_valid(keys: KeySetLookup, sent: str) -> None:
    value = notice(sent=sent, expires="2028-06-30T00:00:00+09:00")
    rejects(
        RejectionCode.KEY_NOT_VALID, sign_notice(value), keys, now=datetime(2028, 1, 2, tzinfo=UTC)
    )


def test_key_valid_from_not_before_inclusive(keys: KeySetLookup) -> None:
    value = notice(sent="2027-01-01T00:00:00+09:00")
    assert verify(sign_notice(value), keys).kid == PREF_KID


@pytest.mark.parametrize("area", [["24"], ["24201"], ["00"], ["23235", "13101"]])
def test_area_outside_scope_is_scope_denied(keys: KeySetLookup, area: list[str]) -> None:
    rejects(RejectionCode.SCOPE_DENIED, sign_notice(notice(area=area)), keys)


def test_category_outside_scope_is_scope_denied(keys: KeySetLookup) -> None:
    rejects(RejectionCode.SCOPE_DENIED, sign_notice(notice(category="health")), keys)


def test_prefecture_key_covers_its_prefecture_and_municipalities(keys: KeySetLookup) -> None:
    assert verify(sign_notice(notice(area=["23", "23235", "23100"])), keys).kid == PREF_KID


def test_steps_run_in_contract_order(keys: KeySetLookup) -> None:
    # Wrong publisher, out of scope and non-canonical at once: step 5 answers first.
    value = notice(publisher="pref-24", area=["24"])
    payload = json.dumps(value).encode()
    rejects(RejectionCode.NOT_CANONICAL, with_header(header(), payload), keys)
    # Unknown kid and a bad signature: step 2 answers first.
    rejects(RejectionCode.UNKNOWN_KEY, sign_notice(value, kid="pref-24/x", key=OTHER_KEY), keys)
    # Schema-invalid and wrong publisher: step 6 answers first.
    rejects(RejectionCode.SCHEMA_INVALID, sign_notice(notice(publisher="pref-24", extra=1)), keys)
    # Wrong publisher and out of scope: publisher first.
    rejects(
        RejectionCode.WRONG_PUBLISHER, sign_notice(notice(publisher="pref-24", area=["24"])), keys
    )


def test_received_at_is_not_clamped_to_now(keys: KeySetLookup) -> None:
    # A feed notice received long ago verifies against its receipt time, not the present.
    envelope = sign_notice(notice(sent="2027-03-31T08:00:00+09:00"), kid=GOV_KID, key=GOV_KEY)
    with pytest.raises(ContractError):
        verify(envelope, keys, received_at=NOW + timedelta(days=1))
