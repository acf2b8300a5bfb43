"""Publishing: verify a signed notice (CONTRACT §3, via ``contracts.verify``), apply the
lifecycle rules, store the exact envelope under the next gap-free ``seq`` and countersign a
receipt. Expected failures come back as ``PublishRejected`` data; a rejection stores no notice.

The caller owns the transaction (commit on return, rollback on exception); this module only
flushes. Order inside the transaction: verification first (no locks), then the sequence row
lock, then the lifecycle checks against committed state, then ``UPDATE … RETURNING`` for the
seq and the insert — so two publishers racing on one notice id see each other's result.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.errors import ContractError, RejectionCode
from contracts.jws import MAX_ENVELOPE_BYTES, TYP_RECEIPT, SignedEnvelope
from contracts.receipt import Receipt
from contracts.verify import TrustedKey, VerifiedNotice, verify_notice
from hub.identity import HubIdentity
from hub.publishers.models import Alarm, StoredNotice
from hub.publishers.repository import PublisherRepository
from hub.publishers.schemas import (
    EnvelopeStrings,
    PublishAccepted,
    PublishRejected,
    PublishResult,
)
from hub.publishers.trust import RegistryKeyLookup, trusted_key

logger = logging.getLogger(__name__)

ALARM_EQUIVOCATION = "EQUIVOCATION"


def _text(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def receipt_of(row: StoredNotice) -> SignedEnvelope:
    return SignedEnvelope(
        protected=row.receipt_protected,
        payload=row.receipt_payload,
        signature=row.receipt_signature,
    )


def _accepted(row: StoredNotice, *, duplicate: bool) -> PublishAccepted:
    return PublishAccepted(
        seq=row.seq,
        publisher=row.publisher_id,
        notice_id=row.notice_id,
        digest=row.digest,
        duplicate=duplicate,
        receipt=receipt_of(row),
    )


async def _lookup_for(repo: PublisherRepository, envelope: SignedEnvelope) -> RegistryKeyLookup:
    """Fetch only the key the header names; a junk header gets an empty lookup (the verifier
    answers it with BAD_ENVELOPE/BAD_ALG before it looks anything up)."""
    try:
        kid = envelope.header().get("kid")
    except ContractError:
        return RegistryKeyLookup({})
    if not isinstance(kid, str):
        return RegistryKeyLookup({})
    row = await repo.get_key(kid)
    keys: dict[str, TrustedKey] = {} if row is None else {kid: trusted_key(row)}
    return RegistryKeyLookup(keys)


async def publish_notice(
    session: AsyncSession,
    *,
    envelope: EnvelopeStrings,
    identity: HubIdentity,
    now: datetime,
) -> PublishResult:
    """Verify and store one signed notice received ``now``."""
    # Building the model decodes nothing; the size is checked before any parsing.
    signed = SignedEnvelope(
        protected=envelope.protected, payload=envelope.payload, signature=envelope.signature
    )
    size = signed.size()
    if size > MAX_ENVELOPE_BYTES:
        return PublishRejected(
            RejectionCode.TOO_LARGE,
            f"envelope is {size} bytes; the limit is {MAX_ENVELOPE_BYTES}",
        )
    repo = PublisherRepository(session)
    try:
        verified = verify_notice(
            signed, keys=await _lookup_for(repo, signed), received_at=now, now=now
        )
    except ContractError as exc:
        return PublishRejected(exc.code, exc.message)

    await repo.lock_sequence()
    try:
        existing = await _check_lifecycle(repo, verified=verified, envelope=envelope, now=now)
    except ContractError as exc:
        return PublishRejected(exc.code, exc.message)
    if existing is not None:
        return _accepted(existing, duplicate=True)

    notice = verified.notice
    seq = await repo.next_seq()
    receipt = Receipt.model_validate(
        {
            "hub": identity.hub_id,
            "seq": seq,
            "publisher": notice.publisher,
            "notice_id": notice.notice_id,
            "digest": verified.digest,
            "received_at": now,
        }
    )
    signed_receipt = identity.sign(receipt.to_payload(), typ=TYP_RECEIPT)
    row = await repo.add_notice(
        StoredNotice(
            seq=seq,
            publisher_id=notice.publisher,
            notice_id=notice.notice_id,
            document_id=notice.document_id,
            revision=notice.revision,
            msg_type=_text(notice.msg_type),
            status=_text(notice.status),
            kid=verified.kid,
            digest=verified.digest,
            protected=envelope.protected,
            payload=envelope.payload,
            signature=envelope.signature,
            received_at=now,
            receipt_protected=signed_receipt.protected,
            receipt_payload=signed_receipt.payload,
            receipt_signature=signed_receipt.signature,
        )
    )
    return _accepted(row, duplicate=False)


async def _check_lifecycle(
    repo: PublisherRepository,
    *,
    verified: VerifiedNotice,
    envelope: EnvelopeStrings,
    now: datetime,
) -> StoredNotice | None:
    """CONTRACT §3 lifecycle rules. Returns the stored original for an idempotent duplicate,
    ``None`` for a new notice, or raises ``ContractError``."""
    notice = verified.notice
    existing = await repo.get_notice(notice.publisher, notice.notice_id)
    if existing is not None:
        if existing.digest == verified.digest:
            return existing
        await _raise_equivocation(
            repo, existing=existing, verified=verified, envelope=envelope, now=now
        )

    latest = await repo.latest_revision(notice.publisher, notice.document_id)
    if _text(notice.msg_type) == "Alert":
        if latest is not None:
            raise ContractError(
                RejectionCode.STALE_REVISION,
                f"document {notice.document_id} already exists (revision {latest}); "
                "send an Update or Cancel that references it",
            )
        return None

    for ref in notice.references:
        if ref.publisher != notice.publisher:
            raise ContractError(
                RejectionCode.BAD_REFERENCE, "a reference must name the same publisher"
            )
        target = await repo.get_notice(ref.publisher, ref.notice_id)
        if target is None:
            if await repo.notice_id_used_by_other(ref.notice_id, publisher_id=ref.publisher):
                raise ContractError(
                    RejectionCode.BAD_REFERENCE,
                    f"referenced notice {ref.notice_id} belongs to another publisher; "
                    f"{notice.publisher} can only update or cancel its own notices",
                )
            raise ContractError(
                RejectionCode.BAD_REFERENCE,
                f"referenced notice {ref.publisher}/{ref.notice_id} is not stored at this hub",
            )
        if target.document_id != notice.document_id:
            raise ContractError(
                RejectionCode.BAD_REFERENCE,
                f"referenced notice {ref.notice_id} belongs to another document",
            )
        if target.revision != ref.revision or target.digest != ref.digest:
            raise ContractError(
                RejectionCode.BAD_REFERENCE,
                f"reference to {ref.notice_id} does not match its stored revision and digest",
            )
        if notice.revision <= target.revision:
            raise ContractError(
                RejectionCode.STALE_REVISION,
                f"revision {notice.revision} is not greater than the referenced "
                f"revision {target.revision}",
            )
    if latest is not None and notice.revision <= latest:
        raise ContractError(
            RejectionCode.STALE_REVISION,
            f"revision {notice.revision} is not greater than the document's latest "
            f"revision {latest}",
        )
    return None


async def _raise_equivocation(
    repo: PublisherRepository,
    *,
    existing: StoredNotice,
    verified: VerifiedNotice,
    envelope: EnvelopeStrings,
    now: datetime,
) -> None:
    """Same notice id, different content, valid signature: keep the evidence, warn, refuse."""
    logger.warning(
        "EQUIVOCATION publisher=%s notice_id=%s kid=%s stored_seq=%d",
        existing.publisher_id,
        existing.notice_id,
        verified.kid,
        existing.seq,
    )
    await repo.add_alarm(
        Alarm(
            kind=ALARM_EQUIVOCATION,
            publisher_id=existing.publisher_id,
            notice_id=existing.notice_id,
            kid=verified.kid,
            stored_digest=existing.digest,
            received_digest=verified.digest,
            protected=envelope.protected,
            payload=envelope.payload,
            signature=envelope.signature,
            created_at=now,
        )
    )
    raise ContractError(
        RejectionCode.EQUIVOCATION,
        f"notice {existing.notice_id} was already accepted (seq {existing.seq}) "
        "with different content",
    )
