"""Fixed test vectors (CONTRACT §8): seeded keys, notices, a key set and a receipt.

``python -m contracts.vectors`` rewrites ``contracts/vectors/vectors.json``; ``--check`` exits
1 if it is stale. Ed25519 signatures are deterministic (RFC 8032), so the same seeds and
inputs always give the same bytes. Each notice vector has a deliberately non-canonical JSON
text (``input_json``: reordered members, ``\\uXXXX`` escapes, whitespace) whose RFC 8785 form
is ``canonical`` (UTF-8 text) / ``canonical_hex`` (bytes), plus the protected header,
payload and signature (base64url) and the payload ``digest``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.canonical import canonicalize
from contracts.jws import TYP_KEYSET, TYP_NOTICE, TYP_RECEIPT, SignedEnvelope, digest, sign
from contracts.keys import private_key_from_seed, public_jwk
from contracts.keyset import KeySet
from contracts.notice import Notice
from contracts.receipt import Receipt

VECTORS_FILE = Path(__file__).resolve().parent / "vectors.json"

# name -> (kid, 32-byte seed as hex). Never use these keys for anything but tests.
SEEDS: dict[str, tuple[str, str]] = {
    "pref-23": ("pref-23/2027a", bytes(range(32)).hex()),
    "gov-cfa": ("gov-cfa/k1", bytes(range(32, 64)).hex()),
    "hub-root": ("hub-aichi/root1", bytes(range(64, 96)).hex()),
}

_BASE: dict[str, Any] = {
    "schema": "todoke.notice/1",
    "publisher": "pref-23",
    "status": "Actual",
    "sent": "2027-04-01T09:00:00+09:00",
    "effective": "2027-04-01T09:00:00+09:00",
    "expires": "2027-06-30T23:59:59+09:00",
    "category": "benefit",
    "program": {"code": "jido-fuyo-teate", "name": "児童扶養手当", "legal_basis": "児童扶養手当法"},
    "area": ["23"],
}

NOTICE_INPUTS: dict[str, dict[str, Any]] = {
    "japanese-alert": {
        **_BASE,
        "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
        "document_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
        "revision": 1,
        "msg_type": "Alert",
        "audience": {"household": ["single_parent"], "child_age_months": {"min": 0, "max": 215}},
        "action": {
            "opens": "2027-04-01T00:00:00+09:00",
            "closes": "2027-05-31T17:00:00+09:00",
            "how_to_apply": "お住まいの市町村の窓口、またはオンラインで申請してください。",
            "url": "https://www.pref.aichi.jp/jido-fuyo-teate",
        },
        "content": {
            "ja": {
                "headline": "児童扶養手当の現況届を提出してください",
                "body": "ひとり親家庭の皆さまへ。８月３１日までに現況届の提出が必要です。",
            }
        },
    },
    "emoji-update": {
        **_BASE,
        "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2Y",
        "document_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
        "revision": 2,
        "msg_type": "Update",
        "references": [
            {
                "publisher": "pref-23",
                "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
                "revision": 1,
                "digest": "0" * 64,
            }
        ],
        "sent": "2027-04-02T10:30:00.250Z",
        "category": "event",
        "area": ["23235", "23100"],
        "audience": {"school_grade": ["es1_entrant", "es1"], "interests": ["子育て👶", "🎉"]},
        "content": {
            "ja": {
                "headline": "親子イベント 👨‍👩‍👧 開催のお知らせ",
                "body": "家族👨‍👩‍👧で参加できます🎈。𠮷野家ではありません。",
            },
            "en": {
                "headline": "Family event 👨‍👩‍👧",
                "body": "Families welcome 🎈 — 𝄞 astral plane.",
            },
        },
    },
    "escapes-cancel": {
        **_BASE,
        "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2Z",
        "document_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
        "revision": 3,
        "msg_type": "Cancel",
        "references": [
            {
                "publisher": "pref-23",
                "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2Y",
                "revision": 2,
                "digest": "ab" * 32,
            }
        ],
        "status": "Exercise",
        "audience": {"programs": ["jido-fuyo-teate"]},
        "content": {
            "ja": {
                "headline": 'quote " backslash \\ slash / tab\t',
                "body": "ctl \u0001 \u001f nl\n cr\r bs\b ff\f del\u007f ls\u2028 ps\u2029 bom\ufeff é",
            }
        },
        "cancel_reason": '誤送信のため取り消します ("テスト" \\ 終わり)',
    },
    "large-integers": {
        **_BASE,
        "publisher": "pref-23",
        "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W30",
        "document_id": "01JQ8Z5X3M4N6P7R8S9T0V1W31",
        "revision": 9007199254740991,
        "msg_type": "Update",
        "references": [
            {
                "publisher": "pref-23",
                "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W31",
                "revision": 9007199254740990,
                "digest": "f" * 64,
            }
        ],
        "category": "health",
        "audience": {"child_age_months": {"min": 0, "max": 9007199254740991}},
        "content": {
            "ja": {"headline": "大きな整数", "body": "revision 9007199254740991 = 2^53 − 1"}
        },
    },
}

KEYSET_INPUT: dict[str, Any] = {
    "schema": "todoke.keyset/1",
    "hub": "aichi",
    "issued_at": "2027-03-30T00:00:00Z",
    "valid_until": "2027-04-06T00:00:00Z",
    "keys": [],  # filled with the seeded public keys by build_vectors
}

RECEIPT_INPUT: dict[str, Any] = {
    "schema": "todoke.receipt/1",
    "hub": "aichi",
    "seq": 1,
    "publisher": "pref-23",
    "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
    "digest": "",  # the japanese-alert payload digest, filled by build_vectors
    "received_at": "2027-04-01T09:00:01+09:00",
}


def _key(name: str) -> tuple[str, Any]:
    kid, seed = SEEDS[name]
    return kid, private_key_from_seed(bytes.fromhex(seed))


def keyset_input() -> dict[str, Any]:
    pref_kid, pref = _key("pref-23")
    gov_kid, gov = _key("gov-cfa")
    keys = [
        {
            "kid": pref_kid,
            "publisher": "pref-23",
            "jwk": public_jwk(pref),
            "not_before": "2027-01-01T00:00:00+09:00",
            "not_after": "2028-01-01T00:00:00+09:00",
            "scope": {"area": ["23"], "category": ["benefit", "event", "health", "procedure"]},
        },
        {
            "kid": gov_kid,
            "publisher": "gov-cfa",
            "jwk": public_jwk(gov),
            "not_before": "2026-10-01T00:00:00Z",
            "not_after": "2027-10-01T00:00:00Z",
            "revoked_at": "2027-03-15T12:00:00Z",
            "scope": {"area": ["00"], "category": ["benefit"]},
        },
    ]
    return {**KEYSET_INPUT, "keys": keys}


def _vector(name: str, value: dict[str, Any], envelope: SignedEnvelope, kid: str) -> dict[str, Any]:
    payload = canonicalize(value)
    return {
        "name": name,
        "kid": kid,
        "input": value,
        "input_json": json.dumps(dict(reversed(value.items())), indent=1, ensure_ascii=True),
        "canonical": payload.decode("utf-8"),
        "canonical_hex": payload.hex(),
        "digest": digest(payload),
        "protected": envelope.protected,
        "payload": envelope.payload,
        "signature": envelope.signature,
    }


def build_vectors() -> dict[str, Any]:
    """Every vector, computed from the seeds and inputs above (validated by the models)."""
    pref_kid, pref = _key("pref-23")
    hub_kid, hub = _key("hub-root")
    notices = []
    for name, value in NOTICE_INPUTS.items():
        Notice.model_validate(value)
        envelope = sign(value, typ=TYP_NOTICE, kid=pref_kid, private_key=pref)
        notices.append(_vector(name, value, envelope, pref_kid))
    keyset = keyset_input()
    KeySet.model_validate(keyset)
    receipt = {**RECEIPT_INPUT, "digest": notices[0]["digest"]}
    Receipt.model_validate(receipt)
    return {
        "description": "Todoke wire contract v1 test vectors (CONTRACT §8). Seeds are public: test only.",
        "keys": [
            {"name": name, "kid": kid, "seed_hex": seed, "jwk": public_jwk(_key(name)[1])}
            for name, (kid, seed) in SEEDS.items()
        ],
        "notices": notices,
        "keyset": _vector(
            "keyset", keyset, sign(keyset, typ=TYP_KEYSET, kid=hub_kid, private_key=hub), hub_kid
        ),
        "receipt": _vector(
            "receipt",
            receipt,
            sign(receipt, typ=TYP_RECEIPT, kid=hub_kid, private_key=hub),
            hub_kid,
        ),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"
