"""Numbering a planned batch under the sequence lock: consecutive gap-free seqs and the hub's
signed receipts (``assign``), and the lock-first way for a single publish
(``sequence_verified`` / ``store_verified``: lock, prefetch, plan, assign, write).

The batcher (``hub.publishers.batch``) plans before it takes the lock and writes with a guard
(``hub.publishers.batch_write``); both ways end in ``assign``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.jws import TYP_RECEIPT, SignedEnvelope
from contracts.receipt import Receipt
from hub.identity import HubIdentity
from hub.publishers.lifecycle import LifecycleView, Plan, plan_batch, text_of
from hub.publishers.models import StoredNotice
from hub.publishers.repository import PublisherRepository
from hub.publishers.schemas import NoticeRow, PublishAccepted, PublishResult, VerifiedPublish


def receipt_of(row: StoredNotice | NoticeRow) -> SignedEnvelope:
    return SignedEnvelope(
        protected=row.receipt_protected,
        payload=row.receipt_payload,
        signature=row.receipt_signature,
    )


def accepted(row: StoredNotice | NoticeRow, *, duplicate: bool) -> PublishAccepted:
    return PublishAccepted(
        seq=row.seq,
        publisher=row.publisher_id,
        notice_id=row.notice_id,
        digest=row.digest,
        duplicate=duplicate,
        receipt=receipt_of(row),
    )


def new_row(item: VerifiedPublish) -> NoticeRow:
    """The row of a notice to store, without its seq and receipt yet (``assign``)."""
    verified, envelope = item.verified, item.envelope
    notice = verified.notice
    return NoticeRow(
        publisher_id=notice.publisher,
        notice_id=notice.notice_id,
        document_id=notice.document_id,
        revision=notice.revision,
        msg_type=text_of(notice.msg_type),
        status=text_of(notice.status),
        kid=verified.kid,
        digest=verified.digest,
        protected=envelope.protected,
        payload=envelope.payload,
        signature=envelope.signature,
        received_at=item.now,
        areas=sorted(set(notice.area)),
    )


def _number(row: NoticeRow, *, seq: int, identity: HubIdentity) -> None:
    receipt = Receipt.model_validate(
        {
            "hub": identity.hub_id,
            "seq": seq,
            "publisher": row.publisher_id,
            "notice_id": row.notice_id,
            "digest": row.digest,
            "received_at": row.received_at,
        }
    )
    signed = identity.sign(receipt.to_payload(), typ=TYP_RECEIPT)
    row.seq = seq
    row.receipt_protected = signed.protected
    row.receipt_payload = signed.payload
    row.receipt_signature = signed.signature


@dataclass(frozen=True)
class SequencedBatch:
    """A numbered batch, not written yet."""

    results: list[PublishResult]  # one per planned item
    rows: list[NoticeRow]  # the new notices, in seq order
    last_seq: int


def assign(plans: Sequence[Plan], *, last_seq: int, identity: HubIdentity) -> SequencedBatch:
    """Under the sequence lock (``last_seq`` is what it showed): number the new rows in order
    and sign their receipts; one result per plan (a duplicate of a new row gets its seq)."""
    rows: list[NoticeRow] = []
    for plan in plans:
        if plan.new is not None:
            last_seq += 1
            _number(plan.new, seq=last_seq, identity=identity)
            rows.append(plan.new)
    results: list[PublishResult] = []
    for plan in plans:
        if plan.rejected is not None:
            results.append(plan.rejected)
        elif plan.new is not None:
            results.append(accepted(plan.new, duplicate=False))
        elif plan.original is not None:
            results.append(accepted(plan.original, duplicate=True))
        else:
            raise ValueError("a plan must be rejected, new or a duplicate")
    return SequencedBatch(results=results, rows=rows, last_seq=last_seq)


async def sequence_verified(
    session: AsyncSession,
    items: Sequence[VerifiedPublish],
    *,
    identity: HubIdentity,
    locked_seq: int | None = None,
) -> SequencedBatch:
    """Take the sequence lock (unless the caller took it in this transaction: ``locked_seq``
    is what ``lock_sequence`` returned), then check verified notices in order against
    committed state: one result per item (a rejection, a duplicate's original, or the new
    notice with the next gap-free seq and its signed receipt). The caller writes the rows."""
    repo = PublisherRepository(session)
    last_seq = await repo.lock_sequence() if locked_seq is None else locked_seq
    view = LifecycleView(repo)
    await view.prefetch(items)
    plans = await plan_batch(view, items, new_row=new_row)
    return assign(plans, last_seq=last_seq, identity=identity)


async def store_verified(
    session: AsyncSession, items: Sequence[VerifiedPublish], *, identity: HubIdentity
) -> list[PublishResult]:
    """``sequence_verified``, then write the counter and the new notices (the areas and the
    NOTIFY are the caller's)."""
    batch = await sequence_verified(session, items, identity=identity)
    if batch.rows:
        repo = PublisherRepository(session)
        await repo.set_last_seq(batch.last_seq)
        await repo.add_notices(batch.rows)
    return batch.results
