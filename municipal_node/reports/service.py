"""Delivery reports (CONTRACT §6): build one per (notice, phase) this tenant sent, sign it with
the tenant's node key, submit it to the hub when it changed.

Which sends: send jobs of hub notices (publisher and ULID notice id; local jobs such as
recurring notices are the tenant's own and never reported) that got past planning (sending,
done, cancelled, failed) and were created within ``horizon`` (LINE insight covers 30 days).

Counts: ``targeted``, ``sent``, ``failed``, ``blocked`` as the KPIs count them
(``kpis.service.delivery_counts``); ``opened`` from LINE insight (withheld — ``null`` and named
in ``suppressed`` — when LINE itself withholds it below 20 people or cannot be asked);
``clicked`` (button taps) and ``applied`` (applications attributed to the phase by time) for
campaign phases, 0 for a notice's single send. ``contracts.report.suppress_counts`` withholds
small cells (1–9) and whatever would let one be derived. No resident identifier is read into a
report: only counts.

A report is submitted when its digest (SHA-256 of the canonical notice, phase, counts and
``suppressed``; ``as_of`` excluded) differs from the last one the hub accepted
(``delivery_reports``), so a round with nothing new sends nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.canonical import canonicalize
from contracts.ids import PUBLISHER_ID_RE, ULID_RE
from contracts.jws import TYP_REPORT, sign
from contracts.report import COUNT_NAMES, Phase, Report, suppress_counts
from municipal_node.audit.repository import record
from municipal_node.campaigns.models import Campaign, CampaignPhase
from municipal_node.db.engine import unit_of_work
from municipal_node.dispatch.models import JobState, SendJob
from municipal_node.dispatch.models import Phase as JobPhase
from municipal_node.kpis.counters import clicks_by_phase
from municipal_node.kpis.insight import InsightSource, OpenedNote
from municipal_node.kpis.service import (
    applied_by_phase,
    delivery_counts,
    opened_of,
    phase_jobs,
)
from municipal_node.relay.hub_client import HubAuthError, HubError
from municipal_node.reports.hub import submit_report
from municipal_node.reports.keys import private_key_of
from municipal_node.reports.models import DeliveryReport
from municipal_node.tenants.schemas import TenantConfig

log = logging.getLogger(__name__)

REPORTED_STATES = (JobState.SENDING, JobState.DONE, JobState.CANCELLED, JobState.FAILED)
DEFAULT_HORIZON = timedelta(days=45)


class ReportSetupError(Exception):
    """The tenant cannot report yet (no node key or no hub credential); message for staff."""


def contract_phase(job_phase: str) -> str:
    return Phase.SINGLE.value if job_phase == JobPhase.NOTICE else job_phase


def report_digest(report: Report) -> str:
    payload = report.to_payload()
    payload.pop("as_of", None)
    return hashlib.sha256(canonicalize(payload)).hexdigest()


@dataclass(frozen=True)
class BuiltReport:
    report: Report
    digest: str
    opened_note: str


async def _reported_jobs(session: AsyncSession, tenant_code: str, since: datetime) -> list[SendJob]:
    jobs = await session.scalars(
        select(SendJob)
        .where(
            SendJob.tenant_code == tenant_code,
            SendJob.state.in_(REPORTED_STATES),
            SendJob.created_at >= since,
        )
        .order_by(SendJob.id)
    )
    return [
        job
        for job in jobs
        if PUBLISHER_ID_RE.fullmatch(job.publisher)
        and ULID_RE.fullmatch(job.notice_id)
        and job.phase in (JobPhase.NOTICE, JobPhase.PREVIEW, JobPhase.OPEN, JobPhase.REMINDER)
    ]


async def campaign_of_phase_jobs(
    session: AsyncSession, tenant_code: str, jobs: Sequence[SendJob]
) -> dict[int, int]:
    """job id → campaign id for the campaign phase jobs among ``jobs``, through the phase that
    made each (not the job's notice: an Update may have moved the campaign onto a newer notice
    since, ``campaigns.succession``)."""
    ids = [job.id for job in jobs if job.phase != JobPhase.NOTICE]
    if not ids:
        return {}
    rows = await session.execute(
        select(CampaignPhase.job_id, CampaignPhase.campaign_id).where(
            CampaignPhase.tenant_code == tenant_code, CampaignPhase.job_id.in_(ids)
        )
    )
    return {int(job_id): int(campaign_id) for job_id, campaign_id in rows if job_id is not None}


async def build_reports(
    session: AsyncSession,
    *,
    tenant_code: str,
    now: datetime,
    insight: InsightSource | None,
    horizon: timedelta = DEFAULT_HORIZON,
) -> list[BuiltReport]:
    """Every report this tenant would submit now (unsigned), in job order."""
    jobs = await _reported_jobs(session, tenant_code, now - horizon)
    counts = await delivery_counts(session, tenant_code, jobs)
    campaign_of_job = await campaign_of_phase_jobs(session, tenant_code, jobs)
    campaigns: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
    for campaign_id in set(campaign_of_job.values()):
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            continue
        clicks = await clicks_by_phase(session, tenant_code=tenant_code, campaign_id=campaign.id)
        applied = await applied_by_phase(session, campaign, await phase_jobs(session, campaign))
        campaigns[campaign_id] = (clicks, applied)
    built: list[BuiltReport] = []
    for job in jobs:
        job_counts = counts[job.id]
        opened = await opened_of(job, job_counts, insight, now)
        clicks, applied = campaigns.get(campaign_of_job.get(job.id, -1), ({}, {}))
        raw = {
            "targeted": job_counts.targeted,
            "sent": job_counts.sent,
            "failed": job_counts.failed,
            "blocked": job_counts.blocked,
            "opened": opened.value or 0,
            "clicked": clicks.get(job.phase, 0),
            "applied": applied.get(job.phase, 0),
        }
        published, suppressed = suppress_counts(raw)
        if opened.value is None and opened.note != OpenedNote.NOT_SENT:
            published["opened"] = None
            suppressed = [n for n in COUNT_NAMES if n in {*suppressed, "opened"}]
        report = Report.model_validate(
            {
                "schema": "todoke.report/1",
                "municipality": tenant_code,
                "notice": {"publisher": job.publisher, "notice_id": job.notice_id},
                "phase": contract_phase(job.phase),
                "as_of": now,
                "counts": published,
                "suppressed": suppressed,
            }
        )
        built.append(BuiltReport(report, report_digest(report), opened.note))
    return built


def compact_jws(report: Report, config: TenantConfig) -> str:
    key = private_key_of(config)
    if key is None or config.node_kid is None:
        raise ReportSetupError(
            f"{config.code} のノード報告鍵がありません（todoke node report-key）/ no node report "
            "key (run todoke node report-key)"
        )
    envelope = sign(report.to_payload(), typ=TYP_REPORT, kid=config.node_kid, private_key=key)
    return f"{envelope.protected}.{envelope.payload}.{envelope.signature}"


@dataclass
class SubmitSummary:
    built: int = 0
    unchanged: int = 0
    submitted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


def _key(publisher: str, notice_id: str, phase: str) -> tuple[str, str, str]:
    return publisher, notice_id, phase


async def _stored(
    session: AsyncSession, tenant_code: str
) -> dict[tuple[str, str, str], DeliveryReport]:
    rows = await session.scalars(
        select(DeliveryReport).where(DeliveryReport.tenant_code == tenant_code)
    )
    return {_key(r.publisher, r.notice_id, r.phase): r for r in rows}


async def submit_changed(
    sessions: async_sessionmaker[AsyncSession],
    *,
    config: TenantConfig,
    http: httpx.AsyncClient,
    now: datetime,
    insight: InsightSource | None,
    horizon: timedelta = DEFAULT_HORIZON,
    actor: str = "node",
) -> SubmitSummary:
    """Build every report, submit the changed ones, record each outcome. ``ReportSetupError``
    when the tenant has no node key or no hub credential."""
    if config.hub_credential is None:
        raise ReportSetupError(
            f"{config.code} のハブ認証情報がありません（todoke node set-hub-credential）/ no hub "
            "credential (todoke node set-hub-credential)"
        )
    if private_key_of(config) is None:
        raise ReportSetupError(
            f"{config.code} のノード報告鍵がありません（todoke node report-key）/ no node report "
            "key (run todoke node report-key)"
        )
    async with sessions() as session:
        built = await build_reports(
            session, tenant_code=config.code, now=now, insight=insight, horizon=horizon
        )
        stored = await _stored(session, config.code)
    summary = SubmitSummary(built=len(built))
    outcomes: list[tuple[BuiltReport, bool, str | None]] = []
    for item in built:
        report = item.report
        key = _key(report.notice.publisher, report.notice.notice_id, report.phase.value)
        previous = stored.get(key)
        if previous is not None and previous.digest == item.digest:
            summary.unchanged += 1
            continue
        try:
            answer = await submit_report(
                http,
                hub_url=config.hub_url,
                credential=config.hub_credential,
                compact=compact_jws(report, config),
            )
        except HubAuthError as exc:
            summary.errors.append(str(exc))
            break
        except HubError as exc:
            summary.errors.append(str(exc))
            outcomes.append((item, False, str(exc)))
            continue
        if answer.accepted:
            summary.submitted += 1
            outcomes.append((item, True, None))
        else:
            summary.rejected += 1
            outcomes.append((item, False, f"{answer.code}: {answer.message}"))
            log.warning(
                "tenant %s: hub refused the report of %s/%s %s: %s",
                config.code,
                report.notice.publisher,
                report.notice.notice_id,
                report.phase.value,
                answer.code,
            )
    if outcomes:
        await _record_outcomes(sessions, config.code, outcomes, now=now, actor=actor)
    return summary


async def _record_outcomes(
    sessions: async_sessionmaker[AsyncSession],
    tenant_code: str,
    outcomes: Sequence[tuple[BuiltReport, bool, str | None]],
    *,
    now: datetime,
    actor: str,
) -> None:
    async with unit_of_work(sessions) as session:
        stored = await _stored(session, tenant_code)
        for item, accepted, error in outcomes:
            report = item.report
            key = _key(report.notice.publisher, report.notice.notice_id, report.phase.value)
            row = stored.get(key)
            if row is None:
                row = DeliveryReport(
                    tenant_code=tenant_code,
                    publisher=key[0],
                    notice_id=key[1],
                    phase=key[2],
                    failures=0,
                    updated_at=now,
                )
                session.add(row)
            if accepted:
                row.digest = item.digest
                row.as_of = report.as_of
                row.counts = report.counts.model_dump()
                row.submitted_at = now
                row.failures = 0
                row.last_error = None
            else:
                row.failures = (row.failures or 0) + 1
                row.last_error = (error or "")[:1000]
            row.updated_at = now
        accepted_count = sum(1 for _, ok, _ in outcomes if ok)
        await record(
            session,
            tenant_code=tenant_code,
            actor=actor,
            action="report.submit",
            at=now,
            count=accepted_count,
            detail={"refused_or_failed": len(outcomes) - accepted_count},
        )
