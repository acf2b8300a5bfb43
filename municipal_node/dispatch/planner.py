"""Planning: a stored notice becomes a send job, and the job's segment becomes outbox batches.

``create_job``: the relay decision (``relay_rules.decide.plan_for``: segment, messages,
approval) is stored as a ``send_jobs`` row — or, when no rule matches, a ``skipped`` one with
the reason — in the transaction that moves the notice ``stored → planned``.

``plan_job``: streams the segment (``segments.stream_recipients``, keyset pages in user id
order) into batches of ≤ 500 and commits them every ``chunk_batches`` batches together with
the job's cursor ``plan_after`` (compare-and-set on the batch count), so:
- senders start on the first chunk while planning continues (``auto`` jobs);
- a crash loses at most the uncommitted chunk, and planning resumes after ``plan_after``
  without skipping or repeating anyone;
- memory holds one page and one chunk, never the segment;
- a job cancelled meanwhile stops planning at its next chunk (the compare-and-set fails).
At the end the job moves to ``sending`` (``auto``), ``held`` (``approval``: counted, nothing
sent until ``control.release``) or ``done`` (nobody to send to).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import repeat
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.audit import repository as audit
from municipal_node.campaigns import repository as campaigns
from municipal_node.campaigns.models import CampaignState
from municipal_node.campaigns.service import create_from_notice, window_of
from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.delivery.line_client import InvalidMessagesError, MulticastTemplate
from municipal_node.dispatch import households, progress, repository
from municipal_node.dispatch.keys import aggregation_unit_for, retry_key_for
from municipal_node.dispatch.models import Approval, BatchState, JobState, Phase, SendJob
from municipal_node.dispatch.sources import recipient_pages
from municipal_node.relay.models import NoticeState, StoredNotice
from municipal_node.relay.schemas import notice_of
from municipal_node.relay_rules.decide import NOT_MATCHED_REASON, plan_for
from municipal_node.segments.ages import jst_date
from municipal_node.tenants.schemas import TenantConfig

log = logging.getLogger(__name__)

BATCH_SIZE = 500
CHUNK_BATCHES = 40
EXPIRED_REASON = "有効期限切れのため送信しません / expired before it could be sent"
NOBODY_REASON = "該当する友だちはいません / no matching friends"
CAMPAIGN_REASON = (
    "申請期間のある通知のため、キャンペーン（予告・受付開始・締切前リマインド）として段階的に"
    "送ります（キャンペーン {campaign_id}） / sent in phases as campaign {campaign_id}"
)


class PlanningStoppedError(Exception):
    """The job left ``planning`` (cancelled) or another planner moved it first."""


# --- jobs ------------------------------------------------------------------------------------


def _job_values(
    stored: StoredNotice, *, phase: str, state: str, now: datetime, reason: str | None
) -> dict[str, Any]:
    return {
        "tenant_code": stored.tenant_code,
        "publisher": stored.publisher,
        "notice_id": stored.notice_id,
        "phase": phase,
        "rule_id": None,
        "approval": Approval.AUTO,
        "spec": {},
        "messages": [],
        "aggregation_unit": aggregation_unit_for(
            stored.tenant_code, stored.publisher, stored.notice_id, phase
        ),
        "state": state,
        "targeted": 0,
        "batches": 0,
        "plan_after": None,
        "send_until": stored.expires,
        "reason": reason,
        "created_at": now,
        "updated_at": now,
        "planned_at": None if state == JobState.PLANNING else now,
        "finished_at": None if state in JobState.ACTIVE else now,
    }


async def create_job(
    session: AsyncSession, *, tenant: TenantConfig, notice_pk: int, now: datetime
) -> int | None:
    """The ``notice`` job of a stored notice; None when the notice is not ``stored`` (any
    more), has expired (→ ``skipped``), or already has its job."""
    stored = await repository.get_notice(session, tenant.code, notice_pk)
    if stored is None or stored.state != NoticeState.STORED:
        return None
    key = (tenant.code, stored.publisher, stored.notice_id)
    if now >= stored.expires:
        await repository.move_notice(
            session, *key, from_states=(NoticeState.STORED,), to_state=NoticeState.SKIPPED,
            now=now, reason=EXPIRED_REASON,
        )  # fmt: skip
        return None
    notice = notice_of(stored)
    state, reason = JobState.PLANNING, None
    values = _job_values(stored, phase=Phase.NOTICE, state=state, now=now, reason=None)
    try:
        plan = await plan_for(session, tenant=tenant, notice=notice, publisher=stored.publisher)
    except LookupError as exc:
        plan, state = None, JobState.FAILED
        reason = f"配信ルールの設定に誤りがあります / the relay rule is broken: {exc}"
    if plan is None and state == JobState.PLANNING:
        state, reason = JobState.SKIPPED, NOT_MATCHED_REASON
    # an Update whose campaign continued on it (campaigns.succession) is that campaign's now
    continued = await campaigns.for_notice(session, tenant.code, stored.publisher, stored.notice_id)
    if continued is not None and continued.state == CampaignState.ACTIVE:
        state, plan = JobState.SKIPPED, None
        reason = CAMPAIGN_REASON.format(campaign_id=continued.id)
    elif plan is not None and plan.campaign and window_of(notice) is not None:
        campaign_id = await create_from_notice(
            session, tenant=tenant, stored=stored, plan=plan, now=now
        )
        if campaign_id is not None:
            state, plan = JobState.SKIPPED, None
            reason = CAMPAIGN_REASON.format(campaign_id=campaign_id)
    if plan is not None:
        values.update(
            rule_id=plan.rule_id,
            approval=Approval.APPROVAL if plan.approval == Approval.APPROVAL else Approval.AUTO,
            spec=plan.spec.to_json(),
            messages=plan.messages,
        )
        try:
            MulticastTemplate(plan.messages, values["aggregation_unit"])
        except InvalidMessagesError as exc:
            state = JobState.FAILED
            reason = f"LINE が受け付けないメッセージです / LINE would refuse the messages: {exc}"
    values.update(
        state=state,
        reason=reason,
        planned_at=None if state == JobState.PLANNING else now,
        finished_at=None if state in JobState.ACTIVE else now,
    )
    job_id = await repository.insert_job(session, values)
    if job_id is None:
        return None
    await progress.mirror(
        session, tenant_code=tenant.code, publisher=stored.publisher, notice_id=stored.notice_id,
        phase=Phase.NOTICE, job_state=state, now=now, reason=reason,
    )  # fmt: skip
    if state == JobState.SKIPPED and reason and reason.startswith(CAMPAIGN_REASON[:20]):
        log.info(
            "tenant %s: notice %s/%s: %s", tenant.code, stored.publisher, stored.notice_id, reason
        )
    elif state != JobState.PLANNING:
        log.warning(
            "tenant %s: notice %s/%s not relayed: %s",
            tenant.code,
            stored.publisher,
            stored.notice_id,
            reason,
        )
    return job_id


# --- batches ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanReport:
    job_id: int
    state: str
    targeted: int
    batches: int


@dataclass
class _Cursor:
    """What is committed so far (the job row says the same)."""

    batches: int
    targeted: int
    plan_after: str | None


class _Planning:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        job: SendJob,
        on_chunk: Callable[[], None] | None,
    ) -> None:
        self.sessions = sessions
        self.sealer = sealer
        self.clock = clock
        self.job = job
        self.on_chunk = on_chunk
        self.committed = _Cursor(job.batches, job.targeted, job.plan_after)
        self.next_batch_no = job.batches
        self.rows: list[dict[str, Any]] = []
        self.user_ids: list[str] = []
        self.households: list[tuple[str, ...]] = []

    def cut(self) -> None:
        """The next batch: the first ≤ 500 recipients waiting."""
        job, batch_no = self.job, self.next_batch_no
        self.next_batch_no += 1
        ids, held = self.user_ids[:BATCH_SIZE], self.households[:BATCH_SIZE]
        del self.user_ids[:BATCH_SIZE], self.households[:BATCH_SIZE]
        now = self.clock.now()
        self.rows.append(
            {
                "job_id": job.id,
                "tenant_code": job.tenant_code,
                "publisher": job.publisher,
                "notice_id": job.notice_id,
                "batch_no": batch_no,
                "user_ids": ids,
                "recipient_count": len(ids),
                "retry_key": retry_key_for(
                    job.tenant_code, job.publisher, job.notice_id, job.phase, batch_no
                ),
                "state": BatchState.PENDING,
                "attempts": 0,
                "last_error": None,
                "claimed_by": None,
                "lease_until": None,
                "household_counts": households.counts_of(held),
                "households_sealed": households.seal(
                    self.sealer,
                    tenant_code=job.tenant_code,
                    job_id=job.id,
                    batch_no=batch_no,
                    households=held,
                ),
                "sent_count": None,
                "sent_household_counts": None,
                "created_at": now,
                "updated_at": now,
            }
        )

    def take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows

    async def commit(self, rows: list[dict[str, Any]], *, finish_state: str | None = None) -> None:
        """Write ``rows`` and move the job's cursor past them, in one transaction."""
        job = self.job
        batches = self.committed.batches + len(rows)
        targeted = self.committed.targeted + sum(row["recipient_count"] for row in rows)
        plan_after = rows[-1]["user_ids"][-1] if rows else self.committed.plan_after
        now = self.clock.now()
        try:
            async with unit_of_work(self.sessions) as session:
                await repository.insert_batches(session, rows)
                moved = await repository.advance_plan(
                    session, job.tenant_code, job.id, expect_batches=self.committed.batches,
                    batches=batches, targeted=targeted, plan_after=plan_after, now=now,
                    finish_state=finish_state,
                )  # fmt: skip
                if not moved:
                    raise PlanningStoppedError(job.id)
                await progress.mirror(
                    session, tenant_code=job.tenant_code, publisher=job.publisher,
                    notice_id=job.notice_id, phase=job.phase,
                    job_state=finish_state or JobState.PLANNING, now=now, targeted=targeted,
                    reason=NOBODY_REASON if finish_state and not targeted else None,
                )  # fmt: skip
                if finish_state is not None:
                    await audit.record(
                        session, tenant_code=job.tenant_code, actor="dispatcher",
                        action="notice.plan", at=now, count=targeted,
                        detail={"publisher": job.publisher, "notice_id": job.notice_id,
                                "phase": job.phase, "job_id": job.id, "batches": batches,
                                "rule_id": job.rule_id, "state": finish_state},
                    )  # fmt: skip
                if finish_state == JobState.SENDING:
                    await repository.finish_if_drained(session, job.tenant_code, job.id, now=now)
        except IntegrityError as exc:  # another planner wrote these batch numbers first
            raise PlanningStoppedError(job.id) from exc
        self.committed = _Cursor(batches, targeted, plan_after)
        if self.on_chunk is not None:
            self.on_chunk()


def _on_date(stored: StoredNotice | None, now: datetime) -> date:
    """The date children's ages and grades are taken on: the notice's ``effective`` (JST)."""
    return jst_date(stored.effective if stored is not None else now)


async def plan_job(
    sessions: async_sessionmaker[AsyncSession],
    *,
    sealer: Sealer,
    clock: Clock,
    tenant_code: str,
    job_id: int,
    chunk_batches: int = CHUNK_BATCHES,
    page_size: int = 10000,
    on_chunk: Callable[[], None] | None = None,
) -> PlanReport | None:
    """Plan (or resume planning) one ``planning`` job; None when it is not planning (any
    more) or another planner got there first."""
    async with sessions() as session:
        job = await repository.get_job(session, tenant_code, job_id)
        if job is None or job.state != JobState.PLANNING:
            return None
        stored = await repository.find_notice(session, tenant_code, job.publisher, job.notice_id)
    planning = _Planning(sessions=sessions, sealer=sealer, clock=clock, job=job, on_chunk=on_chunk)
    # a chunk is written while the next page is read (one write in flight, in order)
    writing: asyncio.Task[None] | None = None
    try:
        async with sessions() as reader:
            async for page in recipient_pages(
                reader,
                sealer=sealer,
                tenant_code=tenant_code,
                spec=job.spec,
                on=_on_date(stored, clock.now()),
                after=job.plan_after,
                page_size=page_size,
                exclude_campaign_id=job.exclude_campaign_id,
            ):
                planning.user_ids.extend(page.user_ids)
                if page.households is None:
                    planning.households.extend(repeat((), len(page.user_ids)))
                else:
                    planning.households.extend(page.households)
                while len(planning.user_ids) >= BATCH_SIZE:
                    planning.cut()
                # the first page is committed at once, so sending starts without waiting
                if len(planning.rows) >= chunk_batches or (writing is None and planning.rows):
                    if writing is not None:
                        await writing
                    writing = asyncio.create_task(planning.commit(planning.take()))
        if writing is not None:
            await writing
        if planning.user_ids:
            planning.cut()
        targeted = planning.committed.targeted + sum(r["recipient_count"] for r in planning.rows)
        if not targeted:
            final = JobState.DONE
        elif job.approval == Approval.APPROVAL:
            final = JobState.HELD
        else:
            final = JobState.SENDING
        await planning.commit(planning.take(), finish_state=final)
    except PlanningStoppedError:
        log.info(
            "tenant %s: planning of job %d stopped (cancelled or taken over)", tenant_code, job_id
        )
        return None
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing
    cursor = planning.committed
    log.info(
        "tenant %s: job %d (%s/%s %s) planned: %d recipients in %d batches → %s",
        tenant_code, job_id, job.publisher, job.notice_id, job.phase, cursor.targeted,
        cursor.batches, final,
    )  # fmt: skip
    return PlanReport(job_id, final, cursor.targeted, cursor.batches)
