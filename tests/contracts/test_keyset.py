from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.canonical import canonicalize
from contracts.errors import ContractError, RejectionCode
from contracts.jws import TYP_KEYSET, TYP_NOTICE, TYP_RECEIPT, SignedEnvelope, sign, sign_bytes
from contracts.keys import public_jwk
from contracts.keyset import KeyEntry, KeySet
from contracts.receipt import Receipt
from contracts.verify import KeySetLookup, TrustedKey, verify_keyset, verify_receipt
from tests.contracts.conftest import HUB_KEY, HUB_KID, OTHER_KEY, PREF_KEY, PREF_KID, keyset_payload

ROOTS = {HUB_KID: HUB_KEY.public_key()}
NOW = datetime(2027, 4, 1, tzinfo=UTC)
RECEIPT: dict[str, Any] = {
    "schema": "todoke.receipt/1",
    "hub": "aichi",
    "seq": 1,
    "publisher": "pref-23",
    "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
    "digest": "0" * 64,
    "received_at": "2027-04-01T09:00:01+09:00",
}


def entry(**changes: Any) -> dict[str, Any]:
    return {**keyset_payload()["keys"][0], **changes}


def signed_keyset(**changes: Any) -> SignedEnvelope:
    return sign(keyset_payload(**changes), typ=TYP_KEYSET, kid=HUB_KID, private_key=HUB_KEY)


def code_of(call: Any) -> RejectionCode:
    with pytest.raises(ContractError) as info:
        call()
    return info.value.code


def test_keyset_verifies_and_feeds_a_lookup() -> None:
    keyset = verify_keyset(signed_keyset(), root_keys=ROOTS, now=NOW)
    assert keyset.to_payload() == keyset_payload()
    trusted = KeySetLookup(keyset).get(PREF_KID)
    assert trusted == TrustedKey.from_entry(keyset.keys[0])
    assert trusted is not None and trusted.areas == frozenset({"23"})
    assert trusted.categories == frozenset({"benefit", "event"})
    assert KeySetLookup(keyset).get("pref-23/nope") is None


def test_expired_keyset_is_refused() -> None:
    assert (
        code_of(
            lambda: verify_keyset(
                signed_keyset(), root_keys=ROOTS, now=datetime(2027, 4, 6, tzinfo=UTC)
            )
        )
        is RejectionCode.KEY_NOT_VALID
    )
    assert verify_keyset(
        signed_keyset(), root_keys=ROOTS, now=datetime(2027, 4, 5, 23, 59, tzinfo=UTC)
    )


def test_keyset_issued_in_the_future_is_refused() -> None:
    now = datetime(2027, 3, 29, tzinfo=UTC)
    assert (
        code_of(lambda: verify_keyset(signed_keyset(), root_keys=ROOTS, now=now))
        is RejectionCode.KEY_NOT_VALID
    )


def test_keyset_valid_longer_than_7_days_is_schema_invalid() -> None:
    envelope = signed_keyset(valid_until="2027-04-06T00:00:01Z")
    assert (
        code_of(lambda: verify_keyset(envelope, root_keys=ROOTS, now=NOW))
        is RejectionCode.SCHEMA_INVALID
    )


@pytest.mark.parametrize(
    ("envelope", "code"),
    [
        (
            sign(keyset_payload(), typ=TYP_KEYSET, kid="hub-aichi/root2", private_key=HUB_KEY),
            RejectionCode.UNKNOWN_KEY,
        ),
        (
            sign(keyset_payload(), typ=TYP_KEYSET, kid=HUB_KID, private_key=OTHER_KEY),
            RejectionCode.BAD_SIGNATURE,
        ),
        (
            sign(keyset_payload(), typ=TYP_RECEIPT, kid=HUB_KID, private_key=HUB_KEY),
            RejectionCode.BAD_ENVELOPE,
        ),
        (
            sign(keyset_payload(), typ=TYP_NOTICE, kid=PREF_KID, private_key=PREF_KEY),
            RejectionCode.BAD_ENVELOPE,
        ),
        (
            sign_bytes(
                protected=b'{"alg":"EdDSA","kid":"hub-aichi/root1","typ":"todoke-keyset+jws"}',
                payload=canonicalize(keyset_payload()),
                private_key=HUB_KEY,
            ),
            RejectionCode.BAD_ALG,
        ),
        (
            sign_bytes(
                protected=b'{"alg":"Ed25519","kid":"hub-aichi/root1","typ":"todoke-keyset+jws"}',
                payload=canonicalize(keyset_payload()) + b" ",
                private_key=HUB_KEY,
            ),
            RejectionCode.NOT_CANONICAL,
        ),
        (
            sign(keyset_payload(hub="gifu"), typ=TYP_KEYSET, kid=HUB_KID, private_key=HUB_KEY),
            RejectionCode.WRONG_PUBLISHER,
        ),
    ],
)
def test_bad_keyset_envelopes(envelope: Any, code: RejectionCode) -> None:
    assert code_of(lambda: verify_keyset(envelope, root_keys=ROOTS, now=NOW)) is code


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"not_after": "2028-02-06T00:00:00+09:00"}, "400 days"),
        ({"not_after": "2027-01-01T00:00:00+09:00"}, "not_before"),
        ({"publisher": "pref-24"}, "publisher"),
        ({"kid": "hub-aichi/x"}, "kid"),
        ({"jwk": {**public_jwk(PREF_KEY), "d": "x"}}, "jwk"),
        ({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "short"}}, "jwk"),
        ({"scope": {"area": [], "category": ["benefit"]}}, "area"),
        ({"scope": {"area": ["23"], "category": ["weather"]}}, "category"),
        ({"revoked_at": "2027-04-01"}, "revoked_at"),
        ({"extra": 1}, "extra"),
    ],
)
def test_key_entry_rules(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        KeyEntry.model_validate(entry(**changes))
    assert where in str(info.value)


def test_key_valid_exactly_400_days_is_allowed() -> None:
    assert KeyEntry.model_validate(entry(not_after="2028-02-05T00:00:00+09:00"))


def test_keyset_rules() -> None:
    with pytest.raises(ValidationError):
        KeySet.model_validate(keyset_payload(keys=[entry(), entry()]))  # duplicate kid
    with pytest.raises(ValidationError):
        KeySet.model_validate(keyset_payload(valid_until="2027-03-30T00:00:00Z"))
    with pytest.raises(ValidationError):
        KeySet.model_validate(keyset_payload(schema="todoke.keyset/2"))


def test_receipt_verifies() -> None:
    envelope = sign(RECEIPT, typ=TYP_RECEIPT, kid=HUB_KID, private_key=HUB_KEY)
    receipt = verify_receipt(envelope, root_keys=ROOTS)
    assert isinstance(receipt, Receipt)
    assert receipt.seq == 1
    assert receipt.to_payload() == RECEIPT


@pytest.mark.parametrize(
    ("envelope", "code"),
    [
        (
            sign(RECEIPT, typ=TYP_KEYSET, kid=HUB_KID, private_key=HUB_KEY),
            RejectionCode.BAD_ENVELOPE,
        ),
        (
            sign(RECEIPT, typ=TYP_RECEIPT, kid=HUB_KID, private_key=OTHER_KEY),
            RejectionCode.BAD_SIGNATURE,
        ),
        (
            sign(RECEIPT, typ=TYP_RECEIPT, kid="hub-gifu/root1", private_key=HUB_KEY),
            RejectionCode.UNKNOWN_KEY,
        ),
        (
            sign({**RECEIPT, "seq": 0}, typ=TYP_RECEIPT, kid=HUB_KID, private_key=HUB_KEY),
            RejectionCode.SCHEMA_INVALID,
        ),
        (
            sign({**RECEIPT, "hub": "gifu"}, typ=TYP_RECEIPT, kid=HUB_KID, private_key=HUB_KEY),
            RejectionCode.WRONG_PUBLISHER,
        ),
    ],
)
def test_bad_receipts(envelope: Any, code: RejectionCode) -> None:
    assert code_of(lambda: verify_receipt(envelope, root_keys=ROOTS)) is code
