"""Campaigns: made from a stored notice that has an application window (``action.opens`` /
``action.closes``) — by the planner (``create_from_notice``) or by staff
(``create_for_notice``) — with three phases (予告, 受付開始, 締切前リマインド), each a
scheduled task (kind ``campaign_phase``, see ``handlers``). Staff edit a phase (time, on/off,
wording), cancel a campaign, enter last year's rate. A hub Cancel of the notice cancels the
campaign (``cancel_for_notice``). Errors are ``ApiError`` (code, Japanese / English message)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notice import Notice
from municipal_node.audit import repository as audit
from municipal_node.campaigns import repository
from municipal_node.campaigns.messages import phase_messages, phase_template
from municipal_node.campaigns.models import (
    Campaign,
    CampaignPhase,
    CampaignPhaseName,
    CampaignState,
    PhaseState,
)
from municipal_node.campaigns.timing import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    SendRules,
    adjust,
    default_phase_times,
    jst_text,
)
from municipal_node.db.upsert import insert_for
from municipal_node.delivery.line_client import InvalidMessagesError, MulticastTemplate
from municipal_node.dispatch import repository as dispatch
from municipal_node.dispatch.keys import aggregation_unit_for
from municipal_node.dispatch.models import JobState
from municipal_node.relay.models import NoticeState, StoredNotice
from municipal_node.relay.schemas import notice_of
from municipal_node.relay_rules.checks import check_template
from municipal_node.relay_rules.decide import SendPlan, plan_for
from municipal_node.relay_rules.render import NoticeFields
from municipal_node.scheduler import service as scheduler
from municipal_node.segments.http_errors import ApiError
from municipal_node.tenants.schemas import TenantConfig

TASK_KIND = "campaign_phase"
#: the task that marks a campaign ``finished`` when its window closes (key ``campaign:<id>:close``)
CLOSE_KIND = "campaign_close"
MAX_REASON = 500
STAFF_OFF_REASON = "職員が停止しました / switched off by staff"
REFUSED_REASON = "LINE が受け付けないメッセージのため送りません / LINE would refuse the messages"


def task_key(campaign_id: int, phase: str) -> str:
    return f"campaign:{campaign_id}:{phase}"


@dataclass(frozen=True)
class CampaignOptions:
    """What staff may choose when creating a campaign (defaults as the planner uses)."""

    title: str | None = None
    quiet_start: str = DEFAULT_QUIET_START
    quiet_end: str = DEFAULT_QUIET_END
    skip_holidays: bool = False
    baseline_rate: float | None = None


def window_of(notice: Notice) -> tuple[datetime, datetime] | None:
    action = notice.action
    if action is None or action.opens is None or action.closes is None:
        return None
    return action.opens, action.closes


def messages_problem(
    messages: list[dict[str, Any]], tenant_code: str, publisher: str, notice_id: str, phase: str
) -> str | None:
    """Why LINE would refuse these messages (None: fine)."""
    try:
        MulticastTemplate(messages, aggregation_unit_for(tenant_code, publisher, notice_id, phase))
    except InvalidMessagesError as exc:
        return str(exc)
    return None


async def _create(
    session: AsyncSession,
    *,
    tenant: TenantConfig,
    stored: StoredNotice,
    notice: Notice,
    plan: SendPlan,
    now: datetime,
    created_by: str,
    options: CampaignOptions,
) -> int | None:
    window = window_of(notice)
    if window is None or window[1] <= now:
        return None
    opens, closes = window
    rules = SendRules.of(options.quiet_start, options.quiet_end, options.skip_holidays)
    title = (options.title or notice.content.ja.headline)[:200]
    campaign_id = await session.scalar(
        insert_for(session, Campaign)
        .values(
            tenant_code=tenant.code,
            publisher=stored.publisher,
            notice_id=stored.notice_id,
            title=title,
            opens_at=opens,
            closes_at=closes,
            rule_id=plan.rule_id,
            spec=plan.spec.to_json(),
            quiet_start=options.quiet_start,
            quiet_end=options.quiet_end,
            skip_holidays=options.skip_holidays,
            baseline_rate=options.baseline_rate,
            form=[],
            state=CampaignState.ACTIVE,
            reason=None,
            created_by=created_by[:64],
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["tenant_code", "publisher", "notice_id"])
        .returning(Campaign.id)
    )
    if campaign_id is None:
        return None
    campaign_id = int(campaign_id)
    fields = NoticeFields.of(notice)
    scheduled: list[str] = []
    for timing in default_phase_times(opens, closes, rules=rules, now=now):
        messages = phase_messages(
            timing.phase,
            fields,
            tenant_name=tenant.name,
            tenant_code=tenant.code,
            campaign_id=campaign_id,
            public_base_url=tenant.public_base_url,
        )
        reason = timing.off_reason
        if reason is None and messages_problem(
            messages, tenant.code, stored.publisher, stored.notice_id, timing.phase
        ):
            reason = REFUSED_REASON
        session.add(
            CampaignPhase(
                campaign_id=campaign_id,
                tenant_code=tenant.code,
                phase=timing.phase,
                enabled=reason is None,
                send_at=timing.send_at,
                messages=messages,
                state=PhaseState.SCHEDULED if reason is None else PhaseState.OFF,
                job_id=None,
                reason=reason,
                updated_at=now,
            )
        )
        if reason is None:
            await scheduler.schedule(
                session,
                tenant_code=tenant.code,
                kind=TASK_KIND,
                key=task_key(campaign_id, timing.phase),
                due_at=timing.send_at,
                payload={"campaign_id": campaign_id, "phase": timing.phase},
                now=now,
            )
            scheduled.append(timing.phase)
    await scheduler.schedule(
        session,
        tenant_code=tenant.code,
        kind=CLOSE_KIND,
        key=task_key(campaign_id, "close"),
        due_at=closes,
        payload={"campaign_id": campaign_id},
        now=now,
    )
    await session.flush()
    await audit.record(
        session,
        tenant_code=tenant.code,
        actor=created_by,
        action="campaign.create",
        at=now,
        count=0,
        detail={
            "campaign_id": campaign_id,
            "publisher": stored.publisher,
            "notice_id": stored.notice_id,
            "phases": scheduled,
        },
    )
    return campaign_id


async def create_from_notice(
    session: AsyncSession,
    *,
    tenant: TenantConfig,
    stored: StoredNotice,
    plan: SendPlan,
    now: datetime,
    created_by: str = "relay",
) -> int | None:
    """The campaign of a stored notice with an application window (the planner calls it with
    the notice's send plan); its id, or None when it exists already or the notice has no
    window (or its window has closed). Phases whose time has passed are created switched off,
    with the reason."""
    notice = notice_of(stored)
    return await _create(
        session,
        tenant=tenant,
        stored=stored,
        notice=notice,
        plan=plan,
        now=now,
        created_by=created_by,
        options=CampaignOptions(),
    )


def _not_found(campaign_id: int) -> ApiError:
    return ApiError(
        "CAMPAIGN_NOT_FOUND",
        f"キャンペーン {campaign_id} が見つかりません / campaign {campaign_id} not found",
        404,
    )


async def create_for_notice(
    session: AsyncSession,
    *,
    tenant: TenantConfig,
    publisher: str,
    notice_id: str,
    now: datetime,
    actor: str,
    options: CampaignOptions,
) -> int:
    """Staff make the campaign of a stored notice (segment and approval from the relay rule
    the notice matches)."""
    stored = await dispatch.find_notice(session, tenant.code, publisher, notice_id)
    if stored is None:
        raise ApiError(
            "NOTICE_NOT_FOUND",
            f"通知 {publisher}/{notice_id} がこのノードにありません / notice {publisher}/"
            f"{notice_id} is not stored at this node",
            404,
        )
    if stored.state in (NoticeState.CANCELLED, NoticeState.FAILED, NoticeState.SKIPPED):
        raise ApiError(
            "NOTICE_NOT_SENDABLE",
            f"この通知は送信されません（状態: {stored.state}） / this notice is not sent "
            f"(state: {stored.state})",
            409,
        )
    notice = notice_of(stored)
    window = window_of(notice)
    if window is None:
        raise ApiError(
            "NO_APPLICATION_WINDOW",
            "この通知には受付期間（action.opens と action.closes）がありません / the notice has "
            "no application window (action.opens and action.closes)",
        )
    if window[1] <= now:
        raise ApiError(
            "WINDOW_CLOSED",
            f"受付期間は {jst_text(window[1])} に終わっています / the application window closed "
            f"at {window[1].isoformat()}",
        )
    if await repository.for_notice(session, tenant.code, publisher, notice_id) is not None:
        raise ApiError(
            "CAMPAIGN_EXISTS",
            "この通知のキャンペーンはすでにあります / this notice already has a campaign",
            409,
        )
    plan = await plan_for(session, tenant=tenant, notice=notice, publisher=publisher)
    if plan is None:
        raise ApiError(
            "NO_RULE_MATCHED",
            "この通知に当てはまる配信ルールがないため、送り先が決まりません / no relay rule "
            "matches this notice, so there is nobody to send to",
        )
    campaign_id = await _create(
        session,
        tenant=tenant,
        stored=stored,
        notice=notice,
        plan=plan,
        now=now,
        created_by=actor,
        options=options,
    )
    if campaign_id is None:  # a concurrent create won
        raise ApiError(
            "CAMPAIGN_EXISTS",
            "この通知のキャンペーンはすでにあります / this notice already has a campaign",
            409,
        )
    return campaign_id


async def get_campaign(session: AsyncSession, tenant_code: str, campaign_id: int) -> Campaign:
    campaign = await repository.get(session, tenant_code, campaign_id)
    if campaign is None:
        raise _not_found(campaign_id)
    return campaign


def _active(campaign: Campaign) -> None:
    if campaign.state != CampaignState.ACTIVE:
        raise ApiError(
            "CAMPAIGN_NOT_ACTIVE",
            f"このキャンペーンは変更できません（状態: {campaign.state}） / the campaign cannot "
            f"be changed (state: {campaign.state})",
            409,
        )


@dataclass(frozen=True)
class PhaseChange:
    send_at: datetime | None = None
    enabled: bool | None = None
    #: the phase's wording (a template: placeholders like {見出し} {締切} {受付URL})
    text: str | None = None
    alt_text: str | None = None


async def change_phase(
    session: AsyncSession,
    *,
    tenant: TenantConfig,
    campaign_id: int,
    phase: str,
    change: PhaseChange,
    now: datetime,
    actor: str,
) -> CampaignPhase:
    """Edit one phase that has not been sent. A new ``send_at`` is moved out of quiet hours
    (and off holidays) like the computed ones and must stay before closing (the preview:
    before opening) and after now."""
    campaign = await get_campaign(session, tenant.code, campaign_id)
    _active(campaign)
    if phase not in CampaignPhaseName.ALL:
        raise ApiError(
            "UNKNOWN_PHASE",
            f"フェーズ {phase!r} はありません（preview, open, reminder） / unknown phase",
            404,
        )
    row = await repository.get_phase(session, tenant.code, campaign_id, phase)
    if row is None:
        raise ApiError("UNKNOWN_PHASE", f"フェーズ {phase} がありません / no phase {phase}", 404)
    if row.state in (PhaseState.SENT, PhaseState.CANCELLED):
        raise ApiError(
            "PHASE_NOT_EDITABLE",
            f"このフェーズは変更できません（状態: {row.state}） / the phase cannot be changed "
            f"(state: {row.state})",
            409,
        )
    changed: dict[str, Any] = {}
    if change.text is not None or change.alt_text is not None:
        # the one not given keeps staff's earlier wording (None: the default)
        text = change.text if change.text is not None else row.custom_text
        alt_text = change.alt_text if change.alt_text is not None else row.custom_alt_text
        template = phase_template(
            phase,
            tenant_code=tenant.code,
            campaign_id=campaign_id,
            public_base_url=tenant.public_base_url,
            text=text,
            alt_text=alt_text,
        )
        problems = check_template(template, tenant_name=tenant.name)
        if problems:
            first = problems[0]
            more = f"（ほか{len(problems) - 1}件）" if len(problems) > 1 else ""
            raise ApiError(
                "TEMPLATE_REFUSED",
                f"文面を保存できません: {first.field}: {first.message}{more}",
                422,
                [problem.as_dict() for problem in problems],
            )
        stored = await dispatch.find_notice(
            session, tenant.code, campaign.publisher, campaign.notice_id
        )
        if stored is None:
            raise ApiError(
                "NOTICE_NOT_FOUND",
                "キャンペーンの通知が見つかりません / the campaign's notice is gone",
                404,
            )
        messages = phase_messages(
            phase,
            NoticeFields.of(notice_of(stored)),
            tenant_name=tenant.name,
            tenant_code=tenant.code,
            campaign_id=campaign_id,
            public_base_url=tenant.public_base_url,
            text=text,
            alt_text=alt_text,
        )
        problem = messages_problem(
            messages, tenant.code, campaign.publisher, campaign.notice_id, phase
        )
        if problem is not None:
            raise ApiError(
                "MESSAGES_REFUSED",
                f"LINE が受け付けないメッセージです / LINE would refuse the messages: {problem}",
            )
        row.messages = messages
        row.custom_text, row.custom_alt_text = text, alt_text
        changed["messages"] = True
    send_at = row.send_at
    if change.send_at is not None:
        if change.send_at.tzinfo is None:
            raise ApiError(
                "INVALID_SEND_AT",
                "send_at にはタイムゾーン（+09:00 など）を付けてください / send_at needs a "
                "time zone offset",
            )
        rules = SendRules.of(campaign.quiet_start, campaign.quiet_end, campaign.skip_holidays)
        send_at = adjust(change.send_at, rules)
        changed["send_at"] = send_at.isoformat()
    enabled = row.enabled if change.enabled is None else change.enabled
    if change.enabled is not None:
        changed["enabled"] = change.enabled
    if enabled and ("send_at" in changed or (change.enabled and not row.enabled)):
        latest = campaign.opens_at if phase == CampaignPhaseName.PREVIEW else campaign.closes_at
        if send_at <= now:
            raise ApiError(
                "SEND_AT_PAST",
                f"送信時刻 {jst_text(send_at)} は過ぎています。これから先の時刻を指定してください "
                f"/ the send time {send_at.isoformat()} has passed; give a later one",
            )
        if send_at >= latest:
            what = "受付開始" if phase == CampaignPhaseName.PREVIEW else "締切"
            raise ApiError(
                "SEND_AT_TOO_LATE",
                f"送信時刻 {jst_text(send_at)} が{what}（{jst_text(latest)}）以降です"
                f"（休日・夜間を避けた調整後） / the send time {send_at.isoformat()} (after the "
                f"quiet-hours/holiday adjustment) is not before {latest.isoformat()}",
            )
    if not changed:
        raise ApiError(
            "NOTHING_TO_CHANGE",
            "変更する項目を指定してください（send_at, enabled, text, alt_text） / nothing to "
            "change",
        )
    row.send_at = send_at
    row.enabled = enabled
    row.updated_at = now
    key = task_key(campaign_id, phase)
    if enabled:
        row.state = PhaseState.SCHEDULED
        row.reason = None
        await scheduler.put(
            session, tenant_code=tenant.code, kind=TASK_KIND, key=key, due_at=send_at,
            payload={"campaign_id": campaign_id, "phase": phase}, now=now,
        )  # fmt: skip
    else:
        row.state = PhaseState.OFF
        row.reason = STAFF_OFF_REASON
        await scheduler.cancel(session, tenant_code=tenant.code, kind=TASK_KIND, key=key, now=now)
    campaign.updated_at = now
    await session.flush()
    await audit.record(
        session,
        tenant_code=tenant.code,
        actor=actor,
        action="campaign.phase_change",
        at=now,
        count=0,
        detail={"campaign_id": campaign_id, "phase": phase, **changed},
    )
    return row


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ApiError(
            "REASON_REQUIRED", "取消の理由を入力してください / a reason for the cancel is required"
        )
    if len(reason) > MAX_REASON:
        raise ApiError(
            "REASON_REQUIRED",
            f"理由は{MAX_REASON}文字以内です / the reason is at most {MAX_REASON} characters",
        )
    return reason


async def stop(
    session: AsyncSession, campaign: Campaign, *, now: datetime, reason: str
) -> list[str]:
    """``_stop`` for the task handlers (no audit record of its own)."""
    return await _stop(session, campaign, now=now, reason=reason)


async def _stop(
    session: AsyncSession, campaign: Campaign, *, now: datetime, reason: str
) -> list[str]:
    """Campaign → cancelled; its phases not sent → cancelled, their tasks cancelled. The
    phases cancelled."""
    campaign.state = CampaignState.CANCELLED
    campaign.reason = reason
    campaign.updated_at = now
    stopped: list[str] = []
    phases = (await repository.phases_of(session, campaign.tenant_code, [campaign.id]))[campaign.id]
    await scheduler.cancel(
        session,
        tenant_code=campaign.tenant_code,
        kind=CLOSE_KIND,
        key=task_key(campaign.id, "close"),
        now=now,
    )
    for row in phases:
        await scheduler.cancel(
            session,
            tenant_code=campaign.tenant_code,
            kind=TASK_KIND,
            key=task_key(campaign.id, row.phase),
            now=now,
        )
        if row.state in (PhaseState.SCHEDULED, PhaseState.OFF):
            row.state = PhaseState.CANCELLED
            row.reason = reason
            row.updated_at = now
            stopped.append(row.phase)
    await session.flush()
    return stopped


async def cancel_campaign(
    session: AsyncSession,
    *,
    tenant_code: str,
    campaign_id: int,
    reason: str,
    now: datetime,
    actor: str,
) -> Campaign:
    """Staff stop a campaign: no further phase is sent, and sends of its phases still going
    out are cancelled (the notice's own send is not touched)."""
    reason = _reason(reason)
    campaign = await get_campaign(session, tenant_code, campaign_id)
    _active(campaign)
    phases = (await repository.phases_of(session, tenant_code, [campaign_id]))[campaign_id]
    stopped = await _stop(session, campaign, now=now, reason=reason)
    jobs: list[int] = []
    for row in phases:
        if row.job_id is None:
            continue
        if await dispatch.move_job(
            session, tenant_code, row.job_id, from_states=JobState.ACTIVE,
            to_state=JobState.CANCELLED, now=now, reason=reason,
        ):  # fmt: skip
            jobs.append(row.job_id)
    batches = await dispatch.cancel_pending(session, tenant_code, jobs, now=now)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="campaign.cancel",
        at=now,
        count=batches,
        detail={"campaign_id": campaign_id, "phases": stopped, "jobs": jobs, "reason": reason},
    )
    return campaign


async def cancel_for_notice(
    session: AsyncSession,
    *,
    tenant_code: str,
    publisher: str,
    notice_id: str,
    now: datetime,
    reason: str,
    actor: str = "hub",
) -> bool:
    """The notice was cancelled (hub Cancel / superseded, or staff): its campaign stops and its
    pending phase tasks are cancelled (the notice's jobs are cancelled by
    ``dispatch.control``). True when an active campaign was cancelled."""
    campaign = await repository.for_notice(session, tenant_code, publisher, notice_id)
    if campaign is None or campaign.state != CampaignState.ACTIVE:
        return False
    reason = reason.strip()[:MAX_REASON] or "通知が取り消されました / the notice was cancelled"
    stopped = await _stop(session, campaign, now=now, reason=reason)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="campaign.cancel",
        at=now,
        count=0,
        detail={"campaign_id": campaign.id, "phases": stopped, "reason": reason},
    )
    return True


async def set_baseline(
    session: AsyncSession,
    *,
    tenant_code: str,
    campaign_id: int,
    rate: float | None,
    now: datetime,
    actor: str,
) -> Campaign:
    """Last year's share of the segment that applied in time (0..1; None clears it)."""
    if rate is not None and not 0 <= rate <= 1:
        raise ApiError(
            "INVALID_RATE",
            "前年の申請率は 0 以上 1 以下（例: 0.42）で指定してください / the baseline rate must "
            "be between 0 and 1",
        )
    campaign = await get_campaign(session, tenant_code, campaign_id)
    campaign.baseline_rate = rate
    campaign.updated_at = now
    await session.flush()
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="campaign.baseline",
        at=now,
        count=0,
        detail={"campaign_id": campaign_id, "rate": rate},
    )
    return campaign
