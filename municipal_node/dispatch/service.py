"""Selection and dispatch of one tenant's notices.

``plan_notice``: for a stored ``Actual`` ``Alert``, page through the tenant's residents whose
LINE user is a friend now (keyset pagination, 1,000 a page), decrypt, keep those matching the
audience, and write outbox batches of ≤ 500 user ids — in the same transaction that moves the
notice ``stored → planned``. The unique key (tenant, publisher, notice, batch_no) makes a
second planning impossible.

``send_next``: claim the oldest pending batch, drop users who unfollowed since planning, send
through ``LineClient`` with the batch's deterministic retry key, record the result, write an
audit row and move the notice to ``sending`` / ``done``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.audit import repository as audit
from municipal_node.crypto import DecryptionError, Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.delivery.line_client import LineClient, SendOutcome, SendResult
from municipal_node.delivery.message import build_text
from municipal_node.dispatch import repository
from municipal_node.dispatch.audience import AudienceMatcher
from municipal_node.dispatch.models import BatchState
from municipal_node.line import repository as friends
from municipal_node.relay.models import NoticeState
from municipal_node.relay.schemas import notice_of
from municipal_node.residents import repository as residents
from municipal_node.residents.schemas import open_attributes
from municipal_node.tenants.schemas import TenantConfig

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
BATCH_SIZE = 500
RETRY_KEY_NAMESPACE = uuid.UUID("6f0b7f4e-3c1e-5d55-9a53-746f646f6b65")


def retry_key_for(tenant_code: str, publisher: str, notice_id: str, batch_no: int) -> str:
    """Deterministic, so a re-send after a crash carries the same X-Line-Retry-Key."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"{tenant_code}/{publisher}/{notice_id}/{batch_no}"))


def household_keys(household: tuple[str, ...]) -> tuple[str, ...]:
    return household or ("none",)


@dataclass(frozen=True)
class PlanResult:
    state: str
    targeted: int
    batches: int
    unreadable: int


def _match_page(
    sealer: Sealer, tenant_code: str, matcher: AudienceMatcher, page: list[tuple[str, str, bytes]]
) -> tuple[list[tuple[str, tuple[str, ...]]], int]:
    matched: list[tuple[str, tuple[str, ...]]] = []
    unreadable = 0
    for resident_id, user_id, sealed in page:
        try:
            attributes = open_attributes(
                sealer, tenant_code=tenant_code, resident_id=resident_id, sealed=sealed
            )
        except DecryptionError:
            unreadable += 1
            continue
        if matcher.matches(attributes):
            matched.append((user_id, household_keys(attributes.household)))
    return matched, unreadable


async def plan_notice(
    session: AsyncSession, *, sealer: Sealer, tenant_code: str, notice_pk: int, now: datetime
) -> PlanResult | None:
    stored = await repository.get_notice(session, notice_pk)
    if stored is None or stored.state != NoticeState.STORED:
        return None
    if now >= stored.expires:
        await repository.move_notice(
            session,
            notice_pk,
            from_states=(NoticeState.STORED,),
            to_state=NoticeState.SKIPPED,
            now=now,
            reason="有効期限切れのため送信しません / expired before it could be sent",
        )
        return PlanResult(NoticeState.SKIPPED, 0, 0, 0)
    notice = notice_of(stored)
    matcher = AudienceMatcher.build(notice.audience, effective=notice.effective)
    pending: list[str] = []
    counts: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    total = batch_no = unreadable = 0
    after: str | None = None

    def cut_batch() -> None:
        nonlocal batch_no
        rows.append(
            {
                "tenant_code": tenant_code,
                "publisher": stored.publisher,
                "notice_id": stored.notice_id,
                "batch_no": batch_no,
                "user_ids": list(pending),
                "recipient_count": len(pending),
                "retry_key": retry_key_for(
                    tenant_code, stored.publisher, stored.notice_id, batch_no
                ),
                "state": BatchState.PENDING,
                "attempts": 0,
                "household_counts": dict(counts),
                "created_at": now,
                "updated_at": now,
            }
        )
        batch_no += 1
        pending.clear()
        counts.clear()

    while not matcher.has_interests:
        page = await residents.friend_residents_page(
            session, tenant_code, after=after, limit=PAGE_SIZE
        )
        if not page:
            break
        after = page[-1][0]
        matched, bad = await asyncio.to_thread(_match_page, sealer, tenant_code, matcher, page)
        unreadable += bad
        for user_id, keys in matched:
            pending.append(user_id)
            counts.update(keys)
            total += 1
            if len(pending) == BATCH_SIZE:
                cut_batch()
        if len(rows) >= 20:
            await repository.insert_batches(session, rows)
            rows.clear()
    if pending:
        cut_batch()
    await repository.insert_batches(session, rows)
    if unreadable:
        log.error(
            "tenant %s: %d resident record(s) could not be decrypted and were left out of "
            "notice %s/%s (wrong encryption key?)",
            tenant_code,
            unreadable,
            stored.publisher,
            stored.notice_id,
        )
    if total:
        state, reason = NoticeState.PLANNED, None
    elif matcher.has_interests:
        state = NoticeState.DONE
        reason = "関心事項の登録は未対応のため該当者なし / residents have no declared interests yet"
    else:
        state, reason = NoticeState.DONE, "該当する友だちはいません / no matching friends"
    await repository.move_notice(
        session,
        notice_pk,
        from_states=(NoticeState.STORED,),
        to_state=state,
        now=now,
        reason=reason,
        targeted=total,
    )
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor="dispatcher",
        action="notice.plan",
        at=now,
        count=total,
        detail={
            "publisher": stored.publisher,
            "notice_id": stored.notice_id,
            "batches": batch_no,
            "unreadable": unreadable,
        },
    )
    return PlanResult(state, total, batch_no, unreadable)


async def _household_counts(
    session: AsyncSession, sealer: Sealer, tenant_code: str, user_ids: list[str]
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for resident_id, sealed in await residents.sealed_by_line_user(session, tenant_code, user_ids):
        try:
            attributes = open_attributes(
                sealer, tenant_code=tenant_code, resident_id=resident_id, sealed=sealed
            )
        except DecryptionError:
            counts["unreadable"] += 1
            continue
        counts.update(household_keys(attributes.household))
    return dict(counts)


@dataclass(frozen=True)
class SendReport:
    batch_id: int
    result: SendResult
    recipients: int


async def send_next(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant: TenantConfig,
    client: LineClient,
    sealer: Sealer,
    now: datetime,
    skip: tuple[int, ...] = (),
) -> SendReport | None:
    """Send one pending batch (skipping ids in ``skip``); None when there is none."""
    async with unit_of_work(sessions) as session:
        batch = await repository.claim_pending(session, tenant.code, skip=skip)
        if batch is None:
            return None
        stored = await repository.find_notice(
            session, tenant.code, batch.publisher, batch.notice_id
        )
        recipients: list[str] = []
        if stored is None or stored.state not in (NoticeState.PLANNED, NoticeState.SENDING):
            outcome = SendOutcome(SendResult.FAILED, 0, None, "notice is no longer sendable")
        else:
            current = await friends.current_friends(session, tenant.code, batch.user_ids)
            recipients = [user_id for user_id in batch.user_ids if user_id in current]
            if recipients:
                text = build_text(tenant_name=tenant.name, notice=notice_of(stored))
                outcome = await client.multicast(recipients, text=text, retry_key=batch.retry_key)
            else:
                outcome = SendOutcome(SendResult.SENT, 0, None, None)
        batch.attempts += outcome.attempts
        batch.updated_at = now
        batch.last_error = outcome.error
        if outcome.result is SendResult.SENT:
            batch.state = BatchState.SENT
            batch.sent_count = len(recipients)
            batch.sent_household_counts = await _household_counts(
                session, sealer, tenant.code, recipients
            )
        elif outcome.result is SendResult.FAILED:
            batch.state = BatchState.FAILED
            log.error(
                "tenant %s: batch %d of %s/%s failed for good: %s",
                tenant.code,
                batch.batch_no,
                batch.publisher,
                batch.notice_id,
                outcome.error,
            )
        else:
            log.warning(
                "tenant %s: batch %d of %s/%s stays pending after %d attempt(s): %s",
                tenant.code,
                batch.batch_no,
                batch.publisher,
                batch.notice_id,
                outcome.attempts,
                outcome.error,
            )
        await audit.record(
            session,
            tenant_code=tenant.code,
            actor="dispatcher",
            action="line.multicast",
            at=now,
            count=len(recipients),
            detail={
                "publisher": batch.publisher,
                "notice_id": batch.notice_id,
                "batch_no": batch.batch_no,
                "result": str(outcome.result),
                "status": outcome.status,
                "attempts": outcome.attempts,
                "dropped_unfollowed": batch.recipient_count - len(recipients)
                if stored is not None
                else 0,
            },
        )
        await session.flush()
        if stored is not None and stored.state in (NoticeState.PLANNED, NoticeState.SENDING):
            left = await repository.pending_count(
                session, tenant.code, batch.publisher, batch.notice_id
            )
            await repository.move_notice(
                session,
                stored.id,
                from_states=(NoticeState.PLANNED, NoticeState.SENDING),
                to_state=NoticeState.SENDING if left else NoticeState.DONE,
                now=now,
            )
        return SendReport(batch.id, outcome.result, len(recipients))
