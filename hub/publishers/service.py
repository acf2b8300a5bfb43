"""Publishing: verify a signed notice (CONTRACT §3, via ``contracts.verify``), apply the
lifecycle rules, store the exact envelope under the next gap-free ``seq`` and countersign a
receipt. Expected failures come back as ``PublishRejected`` data; a rejection stores no notice.

The caller owns the transaction (commit on return, rollback on exception); this module only
flushes. Order: verification first (no locks, ``verify_publish``), then — in the storing
transaction — the sequence row lock, the lifecycle checks against committed state, the seq
update and the insert (``store_verified``), so two publishers racing on one notice id see each
other's result.

``store_verified`` stores a *batch* of verified notices under one lock and one commit (group
commit, ``hub.publishers.batch``): they are checked in order, each against the database plus
the notices accepted before it in the same batch (``_LifecycleView``), and get consecutive
seqs. ``publish_notice`` is the batch of one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.errors import ContractError, RejectionCode
from contracts.jws import MAX_ENVELOPE_BYTES, TYP_RECEIPT, SignedEnvelope
from contracts.receipt import Receipt
from contracts.verify import KeyLookup, TrustedKey, VerifiedNotice, verify_notice
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


def header_kid(envelope: SignedEnvelope) -> str | None:
    """The ``kid`` the header names, or None for a junk header (the verifier answers that with
    BAD_ENVELOPE/BAD_ALG before it looks any key up)."""
    try:
        kid = envelope.header().get("kid")
    except ContractError:
        return None
    return kid if isinstance(kid, str) else None


async def _lookup_for(
    repo: PublisherRepository,
    envelope: SignedEnvelope,
    known: dict[str, TrustedKey | None] | None = None,
) -> RegistryKeyLookup:
    """Fetch only the key the header names. ``known``: keys read earlier in the same
    transaction (each kid is read once)."""
    kid = header_kid(envelope)
    if kid is None:
        return RegistryKeyLookup({})
    if known is not None and kid in known:
        key = known[kid]
    else:
        row = await repo.get_key(kid)
        key = None if row is None else trusted_key(row)
        if known is not None:
            known[kid] = key
    return RegistryKeyLookup({} if key is None else {kid: key})


@dataclass(frozen=True)
class VerifiedPublish:
    """A received envelope that passed CONTRACT §3 verification ``now``; not stored yet."""

    envelope: EnvelopeStrings
    verified: VerifiedNotice
    now: datetime


def signed_envelope(envelope: EnvelopeStrings) -> SignedEnvelope:
    # Building the model decodes nothing; the size is checked before any parsing.
    return SignedEnvelope(
        protected=envelope.protected, payload=envelope.payload, signature=envelope.signature
    )


def verify_envelope(
    envelope: EnvelopeStrings, *, keys: KeyLookup, now: datetime
) -> VerifiedPublish | PublishRejected:
    """Size limit and signature verification against ``keys`` (no database)."""
    signed = signed_envelope(envelope)
    size = signed.size()
    if size > MAX_ENVELOPE_BYTES:
        return PublishRejected(
            RejectionCode.TOO_LARGE,
            f"envelope is {size} bytes; the limit is {MAX_ENVELOPE_BYTES}",
        )
    try:
        verified = verify_notice(signed, keys=keys, received_at=now, now=now)
    except ContractError as exc:
        return PublishRejected(exc.code, exc.message)
    return VerifiedPublish(envelope=envelope, verified=verified, now=now)


async def verify_publish(
    session: AsyncSession,
    *,
    envelope: EnvelopeStrings,
    now: datetime,
    known_keys: dict[str, TrustedKey | None] | None = None,
) -> VerifiedPublish | PublishRejected:
    """``verify_envelope`` with the key the header names, read in ``session`` (unless
    ``known_keys`` has it from earlier in this transaction)."""
    signed = signed_envelope(envelope)
    if signed.size() > MAX_ENVELOPE_BYTES:
        return verify_envelope(envelope, keys=RegistryKeyLookup({}), now=now)
    keys = await _lookup_for(PublisherRepository(session), signed, known_keys)
    return verify_envelope(envelope, keys=keys, now=now)


async def publish_notice(
    session: AsyncSession,
    *,
    envelope: EnvelopeStrings,
    identity: HubIdentity,
    now: datetime,
) -> PublishResult:
    """Verify and store one signed notice received ``now``."""
    checked = await verify_publish(session, envelope=envelope, now=now)
    if isinstance(checked, PublishRejected):
        return checked
    return (await store_verified(session, [checked], identity=identity))[0]


class _LifecycleView:
    """What the lifecycle rules read: the database (under the sequence lock) plus the notices
    accepted earlier in the same batch. The batch's own ids, references and documents are
    read up front in two queries."""

    def __init__(self, repo: PublisherRepository) -> None:
        self.repo = repo
        self._notices: dict[tuple[str, str], StoredNotice | None] = {}
        self._revisions: dict[tuple[str, str], int | None] = {}
        self._added: list[StoredNotice] = []

    async def prefetch(self, items: Sequence[VerifiedPublish]) -> None:
        wanted: set[tuple[str, str]] = set()
        documents: set[tuple[str, str]] = set()
        for item in items:
            notice = item.verified.notice
            wanted.add((notice.publisher, notice.notice_id))
            wanted.update((ref.publisher, ref.notice_id) for ref in notice.references)
            documents.add((notice.publisher, notice.document_id))
        found, revisions = await self.repo.notices_and_revisions(wanted, documents)
        for key in wanted:
            self._notices[key] = found.get(key)
        for key in documents:
            self._revisions[key] = revisions.get(key)

    async def get_notice(self, publisher_id: str, notice_id: str) -> StoredNotice | None:
        key = (publisher_id, notice_id)
        if key not in self._notices:
            self._notices[key] = await self.repo.get_notice(publisher_id, notice_id)
        return self._notices[key]

    async def latest_revision(self, publisher_id: str, document_id: str) -> int | None:
        key = (publisher_id, document_id)
        if key not in self._revisions:
            self._revisions[key] = await self.repo.latest_revision(publisher_id, document_id)
        return self._revisions[key]

    async def notice_id_used_by_other(self, notice_id: str, *, publisher_id: str) -> bool:
        if any(r.notice_id == notice_id and r.publisher_id != publisher_id for r in self._added):
            return True
        return await self.repo.notice_id_used_by_other(notice_id, publisher_id=publisher_id)

    async def add_alarm(self, alarm: Alarm) -> Alarm:
        return await self.repo.add_alarm(alarm)

    async def add(self, row: StoredNotice) -> None:
        latest = await self.latest_revision(row.publisher_id, row.document_id)
        self._notices[(row.publisher_id, row.notice_id)] = row
        self._revisions[(row.publisher_id, row.document_id)] = max(latest or 0, row.revision)
        self._added.append(row)


def _stored_row(item: VerifiedPublish, *, seq: int, identity: HubIdentity) -> StoredNotice:
    verified, envelope, now = item.verified, item.envelope, item.now
    notice = verified.notice
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
    return StoredNotice(
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


@dataclass(frozen=True)
class SequencedBatch:
    """What ``sequence_verified`` decided under the sequence lock, not written yet."""

    results: list[PublishResult]  # one per item
    rows: list[StoredNotice]  # the new notices, in seq order
    last_seq: int


async def sequence_verified(
    session: AsyncSession,
    items: Sequence[VerifiedPublish],
    *,
    identity: HubIdentity,
    locked_seq: int | None = None,
) -> SequencedBatch:
    """Take the sequence lock (unless the caller took it in this transaction: ``locked_seq``
    is what ``lock_sequence`` returned) and check verified notices in order: one result per
    item (a rejection, a duplicate's original, or the new notice with the next gap-free seq
    and its signed receipt). The caller writes the new rows before the transaction ends."""
    repo = PublisherRepository(session)
    last_seq = await repo.lock_sequence() if locked_seq is None else locked_seq
    view = _LifecycleView(repo)
    await view.prefetch(items)
    results: list[PublishResult] = []
    rows: list[StoredNotice] = []
    for item in items:
        try:
            existing = await _check_lifecycle(
                view, verified=item.verified, envelope=item.envelope, now=item.now
            )
        except ContractError as exc:
            results.append(PublishRejected(exc.code, exc.message))
            continue
        if existing is not None:
            results.append(_accepted(existing, duplicate=True))
            continue
        last_seq += 1
        row = _stored_row(item, seq=last_seq, identity=identity)
        await view.add(row)
        rows.append(row)
        results.append(_accepted(row, duplicate=False))
    return SequencedBatch(results=results, rows=rows, last_seq=last_seq)


async def store_verified(
    session: AsyncSession, items: Sequence[VerifiedPublish], *, identity: HubIdentity
) -> list[PublishResult]:
    """``sequence_verified``, then write the counter and the new notices (the areas and the
    NOTIFY are the caller's: ``hub.publishers.batch_write`` does all of it at once)."""
    batch = await sequence_verified(session, items, identity=identity)
    if batch.rows:
        repo = PublisherRepository(session)
        await repo.set_last_seq(batch.last_seq)
        await repo.add_notices(batch.rows)
    return batch.results


async def _check_lifecycle(
    repo: _LifecycleView,
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
    repo: _LifecycleView,
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
