"""CONTRACT §3 lifecycle rules of a publish (``Alert`` / ``Update`` / ``Cancel``, duplicates,
equivocation) over a ``LifecycleView``, and ``plan_batch``: the decision for each notice of a
batch, in order, before any of them has a seq (``hub.publishers.sequencing`` numbers them)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from contracts.errors import ContractError, RejectionCode
from contracts.verify import VerifiedNotice
from hub.publishers.models import Alarm, StoredNotice
from hub.publishers.repository import PublisherRepository
from hub.publishers.schemas import EnvelopeStrings, NoticeRow, PublishRejected, VerifiedPublish

logger = logging.getLogger(__name__)

ALARM_EQUIVOCATION = "EQUIVOCATION"


def text_of(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


class LifecycleView:
    """What the lifecycle rules read: the database plus the notices accepted earlier in the
    same batch. The batch's own ids, references and documents are read up front in one query
    (``prefetch``), which also returns the last seq committed when it looked."""

    def __init__(self, repo: PublisherRepository) -> None:
        self.repo = repo
        self._notices: dict[tuple[str, str], StoredNotice | NoticeRow | None] = {}
        self._revisions: dict[tuple[str, str], int | None] = {}
        self._added: list[NoticeRow] = []
        # every notice id and document id the rules looked at (``WriteGuard``)
        self.touched_ids: set[str] = set()
        self.touched_documents: set[str] = set()

    async def prefetch(self, items: Sequence[VerifiedPublish]) -> int:
        wanted: set[tuple[str, str]] = set()
        documents: set[tuple[str, str]] = set()
        for item in items:
            notice = item.verified.notice
            wanted.add((notice.publisher, notice.notice_id))
            wanted.update((ref.publisher, ref.notice_id) for ref in notice.references)
            documents.add((notice.publisher, notice.document_id))
        seen, found, revisions = await self.repo.notices_and_revisions(wanted, documents)
        for key in wanted:
            self._notices[key] = found.get(key)
        for key in documents:
            self._revisions[key] = revisions.get(key)
        self.touched_ids.update(notice_id for _, notice_id in wanted)
        self.touched_documents.update(document_id for _, document_id in documents)
        return seen

    async def get_notice(
        self, publisher_id: str, notice_id: str
    ) -> StoredNotice | NoticeRow | None:
        key = (publisher_id, notice_id)
        self.touched_ids.add(notice_id)
        if key not in self._notices:
            self._notices[key] = await self.repo.get_notice(publisher_id, notice_id)
        return self._notices[key]

    async def latest_revision(self, publisher_id: str, document_id: str) -> int | None:
        key = (publisher_id, document_id)
        self.touched_documents.add(document_id)
        if key not in self._revisions:
            self._revisions[key] = await self.repo.latest_revision(publisher_id, document_id)
        return self._revisions[key]

    async def notice_id_used_by_other(self, notice_id: str, *, publisher_id: str) -> bool:
        self.touched_ids.add(notice_id)
        if any(r.notice_id == notice_id and r.publisher_id != publisher_id for r in self._added):
            return True
        return await self.repo.notice_id_used_by_other(notice_id, publisher_id=publisher_id)

    async def add_alarm(self, alarm: Alarm) -> Alarm:
        return await self.repo.add_alarm(alarm)

    async def add(self, row: NoticeRow) -> None:
        latest = await self.latest_revision(row.publisher_id, row.document_id)
        self._notices[(row.publisher_id, row.notice_id)] = row
        self._revisions[(row.publisher_id, row.document_id)] = max(latest or 0, row.revision)
        self._added.append(row)


@dataclass(frozen=True)
class Plan:
    """The decision for one verified notice of a batch, before it has a seq: exactly one of
    ``rejected``, ``new`` (the row to store; ``sequencing.assign`` gives it its seq and
    receipt) and ``original`` (an idempotent duplicate of a stored or new row)."""

    rejected: PublishRejected | None = None
    new: NoticeRow | None = None
    original: StoredNotice | NoticeRow | None = None


async def plan_batch(
    view: LifecycleView,
    items: Sequence[VerifiedPublish],
    *,
    new_row: Callable[[VerifiedPublish], NoticeRow],
) -> list[Plan]:
    """Check each item in order against the view, which then includes the ones accepted."""
    plans: list[Plan] = []
    for item in items:
        try:
            existing = await check_lifecycle(
                view, verified=item.verified, envelope=item.envelope, now=item.now
            )
        except ContractError as exc:
            plans.append(Plan(rejected=PublishRejected(exc.code, exc.message)))
            continue
        if existing is not None:
            plans.append(Plan(original=existing))
            continue
        row = new_row(item)
        await view.add(row)
        plans.append(Plan(new=row))
    return plans


async def check_lifecycle(
    repo: LifecycleView,
    *,
    verified: VerifiedNotice,
    envelope: EnvelopeStrings,
    now: datetime,
) -> StoredNotice | NoticeRow | None:
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
    if text_of(notice.msg_type) == "Alert":
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
    repo: LifecycleView,
    *,
    existing: StoredNotice | NoticeRow,
    verified: VerifiedNotice,
    envelope: EnvelopeStrings,
    now: datetime,
) -> None:
    """Same notice id, different content, valid signature: keep the evidence, warn, refuse."""
    logger.warning(
        "EQUIVOCATION publisher=%s notice_id=%s kid=%s stored_seq=%s",
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
    where = f"(seq {existing.seq})" if existing.seq else "earlier in this batch"
    raise ContractError(
        RejectionCode.EQUIVOCATION,
        f"notice {existing.notice_id} was already accepted {where} with different content",
    )
