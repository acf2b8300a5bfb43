"""An ``Update`` of a notice that has an active campaign continues that campaign.

A ministry that extends a deadline or corrects a date publishes an ``Update`` (CONTRACT §3).
Starting a new campaign for it would forget who has applied — the new campaign's reminder would
reach residents who applied under the old one — and the buttons already in residents' talks
would lead to a cancelled form. So, in the transaction that stores the ``Update`` (the same one
that stops the superseded notice's sends, ``dispatch.control.apply_hub_supersession``), the
campaign is moved onto it instead:

- the campaign now belongs to the ``Update`` (``notice_id``), with its window (``opens_at``,
  ``closes_at``); its id, its applications, its clicks and its buttons stay;
- phases already ``sent`` (or ``missed``) stay as they are: nobody gets the preview twice;
- every other phase gets its time again from the new window (same rules: quiet hours,
  holidays; a time that has passed or falls after closing is switched off with the reason) and
  its messages again from the ``Update``'s content (new dates) — in staff's own wording when they
  changed it (``custom_text``: its placeholders take the new values); a phase staff switched off
  stays off, with the new time and messages ready should they switch it on;
- the close task moves to the new closing time; an audit record ``campaign.continue`` names
  both notices.

When the ``Update`` has no application window (or it has closed), nothing continues: the
campaign is stopped as for a ``Cancel``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notice import Notice
from municipal_node.audit import repository as audit
from municipal_node.campaigns import repository
from municipal_node.campaigns.messages import phase_messages
from municipal_node.campaigns.models import CampaignState, PhaseState
from municipal_node.campaigns.service import (
    CLOSE_KIND,
    REFUSED_REASON,
    STAFF_OFF_REASON,
    TASK_KIND,
    messages_problem,
    task_key,
    window_of,
)
from municipal_node.campaigns.timing import SendRules, default_phase_times
from municipal_node.relay_rules.render import NoticeFields
from municipal_node.scheduler import service as scheduler
from municipal_node.tenants import repository as tenants

ACTOR = "hub"
_DONE = (PhaseState.SENT, PhaseState.MISSED)


async def continue_for_update(
    session: AsyncSession,
    *,
    tenant_code: str,
    publisher: str,
    superseded_notice_id: str,
    update: Notice,
    now: datetime,
) -> int | None:
    """Move the active campaign of (``publisher``, ``superseded_notice_id``) onto ``update``;
    its id, or None when there is none or the update has no open window (the caller then
    stops the campaign)."""
    campaign = await repository.for_notice(session, tenant_code, publisher, superseded_notice_id)
    if campaign is None or campaign.state != CampaignState.ACTIVE:
        return None
    window = window_of(update)
    tenant = await tenants.get(session, tenant_code)
    if window is None or window[1] <= now or tenant is None:
        return None
    opens, closes = window
    campaign.notice_id = update.notice_id
    campaign.opens_at, campaign.closes_at = opens, closes
    campaign.updated_at = now
    rules = SendRules.of(campaign.quiet_start, campaign.quiet_end, campaign.skip_holidays)
    timings = {t.phase: t for t in default_phase_times(opens, closes, rules=rules, now=now)}
    fields = NoticeFields.of(update)
    phases = (await repository.phases_of(session, tenant_code, [campaign.id]))[campaign.id]
    changed: dict[str, str] = {}
    for row in phases:
        if row.state in _DONE:
            continue
        timing = timings[row.phase]
        messages = phase_messages(
            row.phase,
            fields,
            tenant_name=tenant.name,
            tenant_code=tenant_code,
            campaign_id=campaign.id,
            public_base_url=tenant.public_base_url,
            text=row.custom_text,
            alt_text=row.custom_alt_text,
        )
        reason = timing.off_reason
        if reason is None and messages_problem(
            messages, tenant_code, publisher, update.notice_id, row.phase
        ):
            reason = REFUSED_REASON
        staff_off = row.state == PhaseState.OFF and row.reason == STAFF_OFF_REASON
        row.send_at, row.messages, row.updated_at = timing.send_at, messages, now
        key = task_key(campaign.id, row.phase)
        if reason is None and not staff_off:
            row.enabled, row.state, row.reason = True, PhaseState.SCHEDULED, None
            await scheduler.put(
                session, tenant_code=tenant_code, kind=TASK_KIND, key=key,
                due_at=timing.send_at, payload={"campaign_id": campaign.id, "phase": row.phase},
                now=now,
            )  # fmt: skip
            changed[row.phase] = timing.send_at.isoformat()
        else:
            row.enabled, row.state = False, PhaseState.OFF
            row.reason = STAFF_OFF_REASON if staff_off else reason
            await scheduler.cancel(
                session, tenant_code=tenant_code, kind=TASK_KIND, key=key, now=now
            )
            changed[row.phase] = "off"
    await scheduler.put(
        session, tenant_code=tenant_code, kind=CLOSE_KIND, key=task_key(campaign.id, "close"),
        due_at=closes, payload={"campaign_id": campaign.id}, now=now,
    )  # fmt: skip
    await session.flush()
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=ACTOR,
        action="campaign.continue",
        at=now,
        count=0,
        detail={
            "campaign_id": campaign.id,
            "from_notice_id": superseded_notice_id,
            "to_notice_id": update.notice_id,
            "revision": update.revision,
            "phases": changed,
        },
    )
    return campaign.id
