"""The scheduled task of a campaign phase (kind ``campaign_phase``, key
``campaign:<id>:<phase>``): when due, the phase's send job is created in the scheduler's
transaction, together with the phase marked ``sent`` — so it happens once even with several
node processes. The reminder's job excludes everyone who applied (``exclude_campaign_id``), at
planning and again at send time. A phase due while the node was down beyond the catch-up window
becomes ``missed`` with the reason (``on_missed``)."""

from __future__ import annotations

import logging

from municipal_node.audit import repository as audit
from municipal_node.campaigns import repository
from municipal_node.campaigns.models import CampaignPhaseName, CampaignState, PhaseState
from municipal_node.campaigns.service import CLOSE_KIND, TASK_KIND, stop
from municipal_node.campaigns.timing import SendRules, adjust, jst_text
from municipal_node.dispatch import repository as dispatch
from municipal_node.dispatch.jobs import insert_send_job
from municipal_node.dispatch.models import Approval
from municipal_node.relay.models import NoticeState
from municipal_node.relay_rules import repository as rules
from municipal_node.scheduler.models import ScheduledTask
from municipal_node.scheduler.registry import DeferTaskError, TaskContext, handler, on_missed

log = logging.getLogger(__name__)

NOTICE_GONE_REASON = "通知が取り消されたため送りません / the notice was cancelled"
TOO_LATE_REASON = "送信できる期限を過ぎていたため送りません / past the time it could be sent"


def _ids(task: ScheduledTask) -> tuple[int, str]:
    return int(task.payload["campaign_id"]), str(task.payload["phase"])


async def _approval(context: TaskContext, rule_id: int | None) -> str:
    """The approval mode of the rule that made the campaign (a rule removed since: approval,
    never a send nobody approved)."""
    if rule_id is None:
        return Approval.AUTO
    rule = await rules.get_rule(context.session, context.tenant.code, rule_id)
    if rule is None or rule.mode == Approval.APPROVAL:
        return Approval.APPROVAL
    return Approval.AUTO


@handler(TASK_KIND)
async def send_phase(context: TaskContext, task: ScheduledTask) -> None:
    session, now, tenant_code = context.session, context.now, context.tenant.code
    campaign_id, phase = _ids(task)
    campaign = await repository.get(session, tenant_code, campaign_id)
    row = await repository.get_phase(session, tenant_code, campaign_id, phase)
    if campaign is None or row is None:
        return
    if (
        campaign.state != CampaignState.ACTIVE
        or not row.enabled
        or row.state != PhaseState.SCHEDULED
    ):
        return
    stored = await dispatch.find_notice(
        session, tenant_code, campaign.publisher, campaign.notice_id
    )
    if stored is None or stored.state == NoticeState.CANCELLED:
        reason = (stored.state_reason if stored is not None else None) or NOTICE_GONE_REASON
        await stop(session, campaign, now=now, reason=reason[:500])
        await audit.record(
            session, tenant_code=tenant_code, actor="scheduler", action="campaign.cancel",
            at=now, count=0, detail={"campaign_id": campaign_id, "reason": "notice_cancelled"},
        )  # fmt: skip
        return
    send_until = campaign.opens_at if phase == CampaignPhaseName.PREVIEW else campaign.closes_at
    send_until = min(send_until, stored.expires)
    # a late run (the node was down) never sends inside quiet hours or on a skipped holiday
    rules = SendRules.of(campaign.quiet_start, campaign.quiet_end, campaign.skip_holidays)
    allowed = adjust(now, rules)
    if send_until <= allowed:
        row.state, row.reason, row.updated_at = PhaseState.MISSED, TOO_LATE_REASON, now
        await audit.record(
            session, tenant_code=tenant_code, actor="scheduler", action="campaign.phase_missed",
            at=now, count=0,
            detail={"campaign_id": campaign_id, "phase": phase, "reason": "too_late"},
        )  # fmt: skip
        return
    if allowed > now:
        raise DeferTaskError(
            allowed,
            f"夜間・休日のため {jst_text(allowed)} に送ります / deferred out of quiet hours",
        )
    job_id = await insert_send_job(
        session,
        tenant_code=tenant_code,
        publisher=campaign.publisher,
        notice_id=campaign.notice_id,
        phase=phase,
        spec=campaign.spec,
        messages=row.messages,
        send_until=send_until,
        now=now,
        approval=await _approval(context, campaign.rule_id),
        rule_id=campaign.rule_id,
        exclude_campaign_id=campaign.id if phase == CampaignPhaseName.REMINDER else None,
    )
    if job_id is None:  # made before (a task run twice): point at it
        for job in await dispatch.jobs_of_notice(
            session, tenant_code, campaign.publisher, campaign.notice_id
        ):
            if job.phase == phase:
                job_id = job.id
    row.state, row.job_id, row.reason, row.updated_at = PhaseState.SENT, job_id, None, now
    await session.flush()
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor="scheduler",
        action="campaign.phase_send",
        at=now,
        count=0,
        detail={"campaign_id": campaign_id, "phase": phase, "job_id": job_id},
    )
    log.info(
        "tenant %s: campaign %d phase %s → send job %s", tenant_code, campaign_id, phase, job_id
    )


@on_missed(TASK_KIND)
async def phase_missed(context: TaskContext, task: ScheduledTask) -> None:
    campaign_id, phase = _ids(task)
    row = await repository.get_phase(context.session, context.tenant.code, campaign_id, phase)
    if row is None or row.state != PhaseState.SCHEDULED:
        return
    hours = (context.now - task.due_at).total_seconds() / 3600
    row.state = PhaseState.MISSED
    row.reason = (
        f"ノードが停止していたため、送信予定時刻（{jst_text(task.due_at)}）から {hours:.0f} 時間"
        f"過ぎていました。送信していません / the node was down: {hours:.0f} h past the send "
        "time, beyond the catch-up window; not sent"
    )
    row.updated_at = context.now
    await context.session.flush()


@handler(CLOSE_KIND)
async def close_campaign(context: TaskContext, task: ScheduledTask) -> None:
    """The window has closed: an active campaign is ``finished`` (phases keep their states)."""
    campaign = await repository.get(
        context.session, context.tenant.code, int(task.payload["campaign_id"])
    )
    if campaign is not None and campaign.state == CampaignState.ACTIVE:
        campaign.state = CampaignState.FINISHED
        campaign.updated_at = context.now
        await context.session.flush()


@on_missed(CLOSE_KIND)
async def close_missed(context: TaskContext, task: ScheduledTask) -> None:
    await close_campaign(context, task)
