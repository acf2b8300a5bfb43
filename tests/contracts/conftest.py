from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.jws import TYP_NOTICE, SignedEnvelope, sign
from contracts.keys import private_key_from_seed, public_jwk
from contracts.keyset import KeySet
from contracts.verify import KeySetLookup

PREF_KID = "pref-23/2027a"
GOV_KID = "gov-cfa/k1"
HUB_KID = "hub-aichi/root1"
NOW = datetime(2027, 4, 1, 0, 30, tzinfo=UTC)  # 09:30 JST

PREF_KEY = private_key_from_seed(bytes(range(32)))
GOV_KEY = private_key_from_seed(bytes(range(32, 64)))
HUB_KEY = private_key_from_seed(bytes(range(64, 96)))
OTHER_KEY = private_key_from_seed(b"\x07" * 32)

NOTICE: dict[str, Any] = {
    "schema": "todoke.notice/1",
    "publisher": "pref-23",
    "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
    "document_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
    "revision": 1,
    "msg_type": "Alert",
    "status": "Actual",
    "sent": "2027-04-01T09:00:00+09:00",
    "effective": "2027-04-01T09:00:00+09:00",
    "expires": "2027-06-30T23:59:59+09:00",
    "category": "benefit",
    "program": {"code": "jido-fuyo-teate", "name": "児童扶養手当"},
    "area": ["23235"],
    "audience": {"household": ["single_parent"]},
    "content": {
        "ja": {"headline": "現況届のお知らせ", "body": "８月３１日までに提出してください。"}
    },
}


def notice(**changes: Any) -> dict[str, Any]:
    """A valid notice dict with top-level members replaced (value None removes the member)."""
    value = copy.deepcopy(NOTICE)
    for key, item in changes.items():
        if item is None:
            value.pop(key, None)
        else:
            value[key] = item
    return value


def keyset_payload(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "schema": "todoke.keyset/1",
        "hub": "aichi",
        "issued_at": "2027-03-30T00:00:00Z",
        "valid_until": "2027-04-06T00:00:00Z",
        "keys": [
            {
                "kid": PREF_KID,
                "publisher": "pref-23",
                "jwk": public_jwk(PREF_KEY),
                "not_before": "2027-01-01T00:00:00+09:00",
                "not_after": "2028-01-01T00:00:00+09:00",
                "scope": {"area": ["23"], "category": ["benefit", "event"]},
            },
            {
                "kid": GOV_KID,
                "publisher": "gov-cfa",
                "jwk": public_jwk(GOV_KEY),
                "not_before": "2026-10-01T00:00:00Z",
                "not_after": "2027-10-01T00:00:00Z",
                "revoked_at": "2027-04-01T00:00:00Z",
                "scope": {"area": ["00"], "category": ["benefit"]},
            },
        ],
    }
    value.update(changes)
    return value


def sign_notice(
    value: dict[str, Any], *, kid: str = PREF_KID, key: Ed25519PrivateKey = PREF_KEY
) -> SignedEnvelope:
    return sign(value, typ=TYP_NOTICE, kid=kid, private_key=key)


@pytest.fixture
def keys() -> KeySetLookup:
    return KeySetLookup(KeySet.model_validate(keyset_payload()))
