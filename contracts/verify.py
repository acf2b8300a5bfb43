"""Verifiers for every signed object (CONTRACT §3).

``verify_notice`` runs the seven steps in the contract's order, each failing with its own code:

0. the envelope is at most ``MAX_ENVELOPE_BYTES`` (``TOO_LARGE``) — a cheap guard first;
1. header: ``alg`` exactly ``Ed25519`` (``BAD_ALG``), exactly alg/kid/typ, ``typ``, ``kid``
   format, base64url of all three parts (``BAD_ENVELOPE``);
2. the ``kid`` in the caller's trusted keys, never from the message (``UNKNOWN_KEY``);
3. not revoked at ``received_at`` — revoked_at <= received_at is ``KEY_REVOKED``; a
   revocation after the hub received the notice leaves it valid;
4. Ed25519 over the exact received bytes (``BAD_SIGNATURE``);
5. payload bytes already RFC 8785 (``NOT_CANONICAL``);
6. the notice schema, and ``sent`` at most 5 minutes after ``now`` (``SCHEMA_INVALID``);
7. ``publisher`` is the key's (``WRONG_PUBLISHER``), ``not_before <= sent < not_after``
   (``KEY_NOT_VALID``), the key's scope covers every ``area`` and the ``category``
   (``SCOPE_DENIED``).

Key sets, receipts and reports are verified with the hub root keys / a node key and their own
``typ``, so one kind of signed object cannot pass for another.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel

from contracts.canonical import parse_canonical
from contracts.errors import ContractError, RejectionCode
from contracts.ids import HUB_KID_RE, KID_RE, area_covers
from contracts.jws import (
    MAX_ENVELOPE_BYTES,
    TYP_KEYSET,
    TYP_NOTICE,
    TYP_RECEIPT,
    TYP_REPORT,
    SignedEnvelope,
    check_signature,
    digest,
    open_envelope,
)
from contracts.keys import public_key_from_jwk
from contracts.keyset import KeyEntry, KeySet
from contracts.notice import Notice, json_object_of, parse_notice, schema_error
from contracts.receipt import Receipt
from contracts.report import Report

MAX_CLOCK_SKEW = timedelta(minutes=5)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    publisher: str
    public_key: Ed25519PublicKey
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None
    areas: frozenset[str]
    categories: frozenset[str]

    @classmethod
    def from_entry(cls, entry: KeyEntry) -> TrustedKey:
        return cls(
            kid=entry.kid,
            publisher=entry.publisher,
            public_key=public_key_from_jwk(entry.jwk),
            not_before=entry.not_before,
            not_after=entry.not_after,
            revoked_at=entry.revoked_at,
            areas=frozenset(entry.scope.area),
            categories=frozenset(c.value for c in entry.scope.category),
        )

    def covers(self, notice: Notice) -> bool:
        areas_ok = all(
            any(area_covers(mine, target) for mine in self.areas) for target in notice.area
        )
        return areas_ok and notice.category.value in self.categories


class KeyLookup(Protocol):
    def get(self, kid: str) -> TrustedKey | None: ...


class KeySetLookup:
    """A ``KeyLookup`` over a key set the caller has verified (``verify_keyset``) and keeps current."""

    def __init__(self, keyset: KeySet) -> None:
        self.keyset = keyset
        self._keys = {entry.kid: TrustedKey.from_entry(entry) for entry in keyset.keys}

    def get(self, kid: str) -> TrustedKey | None:
        return self._keys.get(kid)


@dataclass(frozen=True)
class VerifiedNotice:
    notice: Notice
    kid: str
    digest: str
    payload: bytes
    envelope: SignedEnvelope


def _fail(code: RejectionCode, message: str) -> ContractError:
    return ContractError(code, message)


def verify_notice(
    envelope: SignedEnvelope, *, keys: KeyLookup, received_at: datetime, now: datetime
) -> VerifiedNotice:
    """CONTRACT §3 in order; ``received_at`` is the receipt's time (feed) or the present (publish)."""
    if envelope.size() > MAX_ENVELOPE_BYTES:
        raise _fail(RejectionCode.TOO_LARGE, f"envelope exceeds {MAX_ENVELOPE_BYTES} bytes")
    opened = open_envelope(envelope, typ=TYP_NOTICE, kid_re=KID_RE)  # 1
    kid = opened.kid
    key = keys.get(kid)  # 2
    if key is None:
        raise _fail(RejectionCode.UNKNOWN_KEY, f"kid {kid} is not in the trusted key set")
    if key.revoked_at is not None and key.revoked_at <= received_at:  # 3
        raise _fail(
            RejectionCode.KEY_REVOKED, f"kid {kid} was revoked before the notice was received"
        )
    check_signature(envelope, key.public_key, signature=opened.signature)  # 4
    payload = opened.payload
    parsed = parse_canonical(payload)
    if parsed is None:  # 5
        raise _fail(RejectionCode.NOT_CANONICAL, "payload is not in RFC 8785 form")
    notice = parse_notice(payload, parsed=parsed)  # 6
    if notice.sent > now + MAX_CLOCK_SKEW:
        raise _fail(RejectionCode.SCHEMA_INVALID, "sent is more than 5 minutes in the future")
    if notice.publisher != key.publisher:  # 7
        raise _fail(RejectionCode.WRONG_PUBLISHER, f"publisher is not the publisher of {kid}")
    if not key.not_before <= notice.sent < key.not_after:
        raise _fail(RejectionCode.KEY_NOT_VALID, f"kid {kid} was not valid at sent")
    if not key.covers(notice):
        raise _fail(RejectionCode.SCOPE_DENIED, f"kid {kid} may not publish this area or category")
    return VerifiedNotice(
        notice=notice, kid=kid, digest=digest(payload), payload=payload, envelope=envelope
    )


def _verify_signed(
    envelope: SignedEnvelope,
    *,
    typ: str,
    kid_re: re.Pattern[str],
    key_for: Callable[[str], Ed25519PublicKey | None],
    model: type[M],
) -> tuple[M, str]:
    """The validated payload and the kid that signed it."""
    if envelope.size() > MAX_ENVELOPE_BYTES:
        raise _fail(RejectionCode.TOO_LARGE, f"envelope exceeds {MAX_ENVELOPE_BYTES} bytes")
    opened = open_envelope(envelope, typ=typ, kid_re=kid_re)
    public_key = key_for(opened.kid)
    if public_key is None:
        raise _fail(RejectionCode.UNKNOWN_KEY, f"kid {opened.kid} is not a trusted key")
    check_signature(envelope, public_key, signature=opened.signature)
    parsed = parse_canonical(opened.payload)
    if parsed is None:
        raise _fail(RejectionCode.NOT_CANONICAL, "payload is not in RFC 8785 form")
    try:
        return model.model_validate(json_object_of(opened.payload, parsed)), opened.kid
    except (ValueError, RecursionError) as exc:
        raise _fail(RejectionCode.SCHEMA_INVALID, schema_error(exc)) from exc


def verify_keyset(
    envelope: SignedEnvelope, *, root_keys: Mapping[str, Ed25519PublicKey], now: datetime
) -> KeySet:
    """A key set signed by a pinned hub root key (kid ``hub-<id>/<label>``) whose ``hub`` is the
    kid's hub id. ``KEY_NOT_VALID`` if ``now >= valid_until`` (expired) or ``now < issued_at``
    (not yet issued); the 7-day bound is a schema rule (``SCHEMA_INVALID``)."""
    keyset, kid = _verify_signed(
        envelope, typ=TYP_KEYSET, kid_re=HUB_KID_RE, key_for=root_keys.get, model=KeySet
    )
    _check_hub(kid, keyset.hub)
    if now >= keyset.valid_until:
        raise _fail(RejectionCode.KEY_NOT_VALID, "the key set has expired")
    if now < keyset.issued_at - MAX_CLOCK_SKEW:
        raise _fail(RejectionCode.KEY_NOT_VALID, "the key set is issued in the future")
    return keyset


def verify_receipt(
    envelope: SignedEnvelope, *, root_keys: Mapping[str, Ed25519PublicKey]
) -> Receipt:
    """A receipt signed by a pinned hub root key whose ``hub`` is the kid's hub id."""
    receipt, kid = _verify_signed(
        envelope, typ=TYP_RECEIPT, kid_re=HUB_KID_RE, key_for=root_keys.get, model=Receipt
    )
    _check_hub(kid, receipt.hub)
    return receipt


def verify_report(envelope: SignedEnvelope, *, public_key: Ed25519PublicKey) -> Report:
    """A report signed by the node key the hub registered for the tenant (any publisher-style kid;
    the caller maps the kid to the tenant and checks ``municipality`` against it)."""
    report, _kid = _verify_signed(
        envelope, typ=TYP_REPORT, kid_re=KID_RE, key_for=lambda _kid: public_key, model=Report
    )
    return report


def _check_hub(kid: str, hub: str) -> None:
    match = HUB_KID_RE.fullmatch(kid)
    if match is None or match.group("hub") != hub:
        raise _fail(RejectionCode.WRONG_PUBLISHER, "signed by another hub's key")
