"""KPIs of a campaign, per phase and overall. Aggregates only: no resident is named anywhere.

Per phase (its send job, ``campaign_phases.job_id``):

- ``targeted``: recipients planned (``send_jobs.targeted``);
- ``sent`` / ``failed``: recipients of batches LINE accepted / that failed for good;
- ``blocked``: planned recipients dropped at send time because they had blocked the account
  or stopped all notices meanwhile (``outbox_batches``: planned minus sent of sent batches);
- ``opened``: LINE insight's ``uniqueImpression`` for the job's aggregation unit (``None``
  when LINE withholds it below 20 people or cannot be asked: ``opened_note`` says which);
- ``clicked``: taps on the phase's button (``phase_clicks``; a tap, not a person);
- ``applied``: applications made after this phase was sent and before the next phase was sent
  (or the window closed), inside the application window — attribution by time, nothing more.

Overall: applications in the window, before the reminder was sent (reminders avoided: those
people were excluded from the reminder) and after it, the segment (the largest ``targeted`` of
the phases — everyone the campaign reached), the share of the segment that applied in time
and the difference to ``campaigns.baseline_rate`` in percentage points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.applications.repository import count_applied
from municipal_node.campaigns.models import Campaign, CampaignPhase, CampaignPhaseName
from municipal_node.dispatch.models import JobState, SendJob
from municipal_node.dispatch.repository import batch_counts
from municipal_node.kpis.counters import clicks_by_phase
from municipal_node.kpis.insight import InsightSource, Opened, OpenedNote, jst_day
from municipal_node.kpis.schemas import ApplicationKpis, CampaignKpis, PhaseKpis


class KpiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


CAMPAIGN_NOT_FOUND = "CAMPAIGN_NOT_FOUND"


@dataclass(frozen=True)
class DeliveryCounts:
    targeted: int
    sent: int
    failed: int
    blocked: int


async def delivery_counts(
    session: AsyncSession, tenant_code: str, jobs: Sequence[SendJob]
) -> dict[int, DeliveryCounts]:
    """targeted / sent / failed / blocked of each job (from ``send_jobs`` and its batches)."""
    batches = await batch_counts(session, tenant_code, [job.id for job in jobs])
    out: dict[int, DeliveryCounts] = {}
    for job in jobs:
        counts = batches.get(job.id)
        out[job.id] = DeliveryCounts(
            targeted=int(job.targeted or 0),
            sent=counts.recipients_sent if counts else 0,
            failed=counts.recipients_failed if counts else 0,
            blocked=counts.dropped if counts else 0,
        )
    return out


def job_started(job: SendJob) -> datetime:
    """When a phase counts as sent: its job's creation (the phase's due time, when run)."""
    return job.created_at


async def opened_of(
    job: SendJob | None, counts: DeliveryCounts | None, insight: InsightSource | None, now: datetime
) -> Opened:
    if job is None or counts is None or counts.sent == 0:
        return Opened(None, OpenedNote.NOT_SENT)
    if insight is None:
        return Opened(None, OpenedNote.UNAVAILABLE, "insight not configured")
    return await insight.opened(job.aggregation_unit, jst_day(job_started(job)), jst_day(now))


async def _applied_between(
    session: AsyncSession,
    campaign: Campaign,
    start: datetime,
    end: datetime,
    cache: dict[datetime, int],
) -> int:
    lo, hi = max(start, campaign.opens_at), min(end, campaign.closes_at)
    if hi <= lo:
        return 0

    async def before(moment: datetime) -> int:
        if moment not in cache:
            cache[moment] = await count_applied(
                session, campaign.tenant_code, campaign.id, before=moment
            )
        return cache[moment]

    return await before(hi) - await before(lo)


@dataclass(frozen=True)
class PhaseJob:
    phase: CampaignPhase
    job: SendJob | None


async def phase_jobs(session: AsyncSession, campaign: Campaign) -> list[PhaseJob]:
    """The campaign's phases in send order with their send jobs (if sent)."""
    phases = list(
        await session.scalars(
            select(CampaignPhase).where(
                CampaignPhase.tenant_code == campaign.tenant_code,
                CampaignPhase.campaign_id == campaign.id,
            )
        )
    )
    phases.sort(
        key=lambda p: (
            CampaignPhaseName.ALL.index(p.phase) if p.phase in CampaignPhaseName.ALL else 9
        )
    )
    jobs = list(
        await session.scalars(
            select(SendJob).where(
                SendJob.tenant_code == campaign.tenant_code,
                SendJob.publisher == campaign.publisher,
                SendJob.notice_id == campaign.notice_id,
                SendJob.phase.in_(CampaignPhaseName.ALL),
            )
        )
    )
    by_id = {job.id: job for job in jobs}
    by_phase = {job.phase: job for job in jobs}
    return [
        PhaseJob(p, by_id.get(p.job_id) if p.job_id is not None else by_phase.get(p.phase))
        for p in phases
    ]


async def applied_by_phase(
    session: AsyncSession, campaign: Campaign, entries: Sequence[PhaseJob]
) -> dict[str, int]:
    """Applications attributed to each sent phase by time (module docstring)."""
    cache: dict[datetime, int] = {}
    sent = sorted(
        ((job_started(e.job), e.phase.phase) for e in entries if e.job is not None),
        key=lambda item: item[0],
    )
    out: dict[str, int] = {}
    for i, (start, phase) in enumerate(sent):
        end = sent[i + 1][0] if i + 1 < len(sent) else campaign.closes_at
        out[phase] = await _applied_between(session, campaign, start, end, cache)
    return out


async def get_campaign(session: AsyncSession, tenant_code: str, campaign_id: int) -> Campaign:
    campaign = await session.scalar(
        select(Campaign).where(Campaign.tenant_code == tenant_code, Campaign.id == campaign_id)
    )
    if campaign is None:
        raise KpiError(
            CAMPAIGN_NOT_FOUND,
            f"キャンペーン {campaign_id} が見つかりません / no campaign {campaign_id}",
        )
    return campaign


async def campaign_kpis(
    session: AsyncSession,
    *,
    tenant_code: str,
    campaign_id: int,
    now: datetime,
    insight: InsightSource | None,
) -> CampaignKpis:
    campaign = await get_campaign(session, tenant_code, campaign_id)
    entries = await phase_jobs(session, campaign)
    jobs = [e.job for e in entries if e.job is not None]
    counts = await delivery_counts(session, tenant_code, jobs)
    clicks = await clicks_by_phase(session, tenant_code=tenant_code, campaign_id=campaign.id)
    applied = await applied_by_phase(session, campaign, entries)
    phases: list[PhaseKpis] = []
    for entry in entries:
        job = entry.job
        job_counts = counts.get(job.id) if job is not None else None
        opened = await opened_of(job, job_counts, insight, now)
        phases.append(
            PhaseKpis(
                phase=entry.phase.phase,
                label_ja=CampaignPhaseName.LABELS_JA.get(entry.phase.phase, entry.phase.phase),
                state=entry.phase.state,
                enabled=entry.phase.enabled,
                send_at=entry.phase.send_at,
                job_id=None if job is None else job.id,
                job_state=None if job is None else job.state,
                targeted=job_counts.targeted if job_counts else 0,
                sent=job_counts.sent if job_counts else 0,
                failed=job_counts.failed if job_counts else 0,
                blocked=job_counts.blocked if job_counts else 0,
                opened=opened.value,
                opened_note=opened.note,
                opened_error=opened.error,
                clicked=clicks.get(entry.phase.phase, 0),
                applied=applied.get(entry.phase.phase, 0),
            )
        )
    return CampaignKpis(
        campaign_id=campaign.id,
        title=campaign.title,
        publisher=campaign.publisher,
        notice_id=campaign.notice_id,
        state=campaign.state,
        opens_at=campaign.opens_at,
        closes_at=campaign.closes_at,
        as_of=now,
        phases=phases,
        applications=await _application_kpis(session, campaign, entries, counts),
    )


async def _application_kpis(
    session: AsyncSession,
    campaign: Campaign,
    entries: Sequence[PhaseJob],
    counts: dict[int, DeliveryCounts],
) -> ApplicationKpis:
    cache: dict[datetime, int] = {}
    total = await count_applied(session, campaign.tenant_code, campaign.id)
    in_window = await _applied_between(
        session, campaign, campaign.opens_at, campaign.closes_at, cache
    )
    reminder = next(
        (e.job for e in entries if e.phase.phase == CampaignPhaseName.REMINDER and e.job), None
    )
    before_reminder = after_reminder = None
    if reminder is not None and reminder.state not in (JobState.SKIPPED, JobState.FAILED):
        started = job_started(reminder)
        before_reminder = await _applied_between(
            session, campaign, campaign.opens_at, started, cache
        )
        after_reminder = await _applied_between(
            session, campaign, started, campaign.closes_at, cache
        )
    segment = max((c.targeted for c in counts.values()), default=0)
    rate = round(in_window / segment, 4) if segment else None
    baseline = campaign.baseline_rate
    return ApplicationKpis(
        total=total,
        in_window=in_window,
        before_reminder=before_reminder,
        after_reminder=after_reminder,
        segment=segment,
        in_time_rate=rate,
        baseline_rate=baseline,
        vs_baseline_points=(
            None if rate is None or baseline is None else round((rate - baseline) * 100, 2)
        ),
    )
