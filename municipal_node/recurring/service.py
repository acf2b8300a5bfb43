"""Recurring notices: save rules (checked), keep the next occurrence scheduled, and send an
occurrence when its task is due.

Scheduling invariant: an enabled rule has exactly one pending ``recurring`` task, the next
occurrence that has not been sent (``ensure_next``); a disabled rule has none. Saving a rule,
running an occurrence and a missed occurrence all call ``ensure_next``, in the same
transaction, so the chain never breaks and never forks.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit import repository as audit
from municipal_node.dispatch.jobs import LOCAL_PUBLISHER, JobRefusedError, insert_send_job
from municipal_node.dispatch.models import Phase
from municipal_node.recurring import repository
from municipal_node.recurring.content import Content, check_content, check_renders, render
from municipal_node.recurring.dates import (
    Occurrence,
    Recurrence,
    RecurrenceError,
    normalize_rrule,
    parse_send_time,
)
from municipal_node.recurring.models import RecurringRule
from municipal_node.recurring.repository import KIND
from municipal_node.recurring.schemas import PreviewIn, RecurrenceIn, RecurringRuleIn, Wording
from municipal_node.relay_rules import repository as templates
from municipal_node.relay_rules.placeholders import Problem
from municipal_node.relay_rules.render import TemplateFields
from municipal_node.relay_rules.schemas import template_fields
from municipal_node.relay_rules.service import tenant_name
from municipal_node.scheduler import service as scheduler
from municipal_node.scheduler.models import TaskState
from municipal_node.segments.ages import JST, jst_date
from municipal_node.segments.http_errors import ApiError
from municipal_node.segments.spec import SegmentSpec

ACTOR = "scheduler"


def task_key(rule_id: int, on: date) -> str:
    return f"{repository.key_prefix(rule_id)}{on.isoformat()}"


def notice_id(rule_id: int, on: date) -> str:
    """The job's ``notice_id`` (publisher ``local``): ``r<rule>-<YYYYMMDD>``, ≤ 26 chars."""
    return f"r{rule_id}-{on:%Y%m%d}"


def recurrence_of(rule: RecurringRule) -> Recurrence:
    return Recurrence(
        rrule_text=rule.rrule,
        starts_on=rule.starts_on,
        lead_days=rule.lead_days,
        send_time=parse_send_time(rule.send_time),
        adjust=rule.adjust,  # type: ignore[arg-type]
    )


def content_of(rule: RecurringRule) -> Content:
    return Content(headline=rule.headline, body=rule.body, url=rule.url, program_name=rule.name)


def _refused(code: str, problems: list[Problem]) -> ApiError:
    first = problems[0]
    more = f"（ほか{len(problems) - 1}件）" if len(problems) > 1 else ""
    return ApiError(
        code,
        f"保存できません: {first.field}: {first.message}{more}",
        422,
        [problem.as_dict() for problem in problems],
    )


def recurrence_from(
    data: RecurrenceIn, *, now: datetime, starts_on: date | None = None
) -> Recurrence:
    """The recurrence of a request; ``ApiError`` 422 ``INVALID_RECURRENCE`` if unusable.
    Without ``starts_on`` in the request: ``starts_on`` (a saved rule's), else today (JST)."""
    try:
        recurrence = Recurrence(
            rrule_text=data.rrule,
            starts_on=data.starts_on or starts_on or jst_date(now),
            lead_days=data.lead_days,
            send_time=parse_send_time(data.send_time),
            adjust=data.adjust,
        )
        recurrence.validate(now=now)
    except RecurrenceError as exc:
        field = "send_time" if "send_time" in str(exc) else "rrule"
        raise ApiError(
            "INVALID_RECURRENCE",
            f"繰り返しの指定に誤りがあります: {exc}",
            422,
            [{"field": field, "message": str(exc)}],
        ) from exc
    return recurrence


async def template_for(
    session: AsyncSession, tenant_code: str, template_id: int | None
) -> TemplateFields | None:
    """The saved template's wording (this tenant's only), None for the default."""
    if template_id is None:
        return None
    template = await templates.get_template(session, tenant_code, template_id)
    if template is None:
        raise ApiError(
            "TEMPLATE_NOT_FOUND",
            f"テンプレート {template_id} は見つかりません / template {template_id} not found",
            404,
        )
    return template_fields(template)


async def check_wording(
    session: AsyncSession,
    *,
    tenant_code: str,
    wording: Wording,
    program_name: str,
    allow_date: bool,
) -> None:
    """``ApiError`` 422 ``WORDING_REFUSED`` (or 404 for another tenant's template)."""
    content = Content(wording.headline, wording.body, wording.url, program_name)
    problems = check_content(content, allow_date=allow_date)
    if problems:
        raise _refused("WORDING_REFUSED", problems)
    template = await template_for(session, tenant_code, wording.template_id)
    problems = check_renders(
        content,
        template=template,
        tenant_name=await tenant_name(session, tenant_code),
        tenant_code=tenant_code,
    )
    if problems:
        raise _refused("WORDING_REFUSED", problems)


def _not_found(rule_id: int) -> ApiError:
    return ApiError(
        "RECURRING_RULE_NOT_FOUND",
        f"定期通知 {rule_id} は見つかりません / recurring notice {rule_id} not found",
        404,
    )


async def get(session: AsyncSession, *, tenant_code: str, rule_id: int) -> RecurringRule:
    rule = await repository.get_rule(session, tenant_code, rule_id)
    if rule is None:
        raise _not_found(rule_id)
    return rule


async def _apply(
    session: AsyncSession,
    rule: RecurringRule,
    data: RecurringRuleIn,
    *,
    tenant_code: str,
    actor: str,
    now: datetime,
) -> None:
    recurrence = recurrence_from(data, now=now, starts_on=rule.starts_on)
    await check_wording(
        session, tenant_code=tenant_code, wording=data, program_name=data.name, allow_date=True
    )
    existing = await repository.rule_by_name(session, tenant_code, data.name)
    if existing is not None and existing.id != rule.id:
        raise ApiError(
            "RECURRING_RULE_NAME_TAKEN",
            f"定期通知名「{data.name}」は既に使われています / name {data.name!r} is already in use",
            409,
        )
    rule.name = data.name
    rule.rrule = normalize_rrule(recurrence.rrule_text)
    rule.starts_on = recurrence.starts_on
    rule.lead_days = recurrence.lead_days
    rule.send_time = f"{recurrence.send_time:%H:%M}"
    rule.adjust = recurrence.adjust
    rule.spec = data.spec.to_json()
    rule.headline = data.headline
    rule.body = data.body
    rule.url = data.url
    rule.template_id = data.template_id
    rule.mode = data.mode
    rule.enabled = data.enabled
    rule.updated_by = actor
    rule.updated_at = now


async def create(
    session: AsyncSession, *, tenant_code: str, data: RecurringRuleIn, actor: str, now: datetime
) -> RecurringRule:
    rule = RecurringRule(tenant_code=tenant_code, created_by=actor, created_at=now)
    await _apply(session, rule, data, tenant_code=tenant_code, actor=actor, now=now)
    try:
        async with session.begin_nested():
            await repository.add(session, rule)
    except IntegrityError as exc:
        raise ApiError(
            "RECURRING_RULE_NAME_TAKEN",
            f"定期通知名「{data.name}」は既に使われています / name {data.name!r} is already in use",
            409,
        ) from exc
    await ensure_next(session, rule, now=now)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="recurring.create",
        at=now,
        count=0,
        detail={"rule_id": rule.id, "enabled": rule.enabled},
    )
    return rule


async def replace(
    session: AsyncSession,
    *,
    tenant_code: str,
    rule_id: int,
    data: RecurringRuleIn,
    actor: str,
    now: datetime,
) -> RecurringRule:
    rule = await get(session, tenant_code=tenant_code, rule_id=rule_id)
    await _apply(session, rule, data, tenant_code=tenant_code, actor=actor, now=now)
    await session.flush()
    await ensure_next(session, rule, now=now)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="recurring.update",
        at=now,
        count=0,
        detail={"rule_id": rule.id, "enabled": rule.enabled},
    )
    return rule


async def set_enabled(
    session: AsyncSession,
    *,
    tenant_code: str,
    rule_id: int,
    enabled: bool,
    actor: str,
    now: datetime,
) -> RecurringRule:
    rule = await get(session, tenant_code=tenant_code, rule_id=rule_id)
    rule.enabled = enabled
    rule.updated_by = actor
    rule.updated_at = now
    await session.flush()
    await ensure_next(session, rule, now=now)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="recurring.enable" if enabled else "recurring.disable",
        at=now,
        count=0,
        detail={"rule_id": rule.id},
    )
    return rule


def preview(data: PreviewIn, *, now: datetime) -> list[Occurrence]:
    return recurrence_from(data, now=now).upcoming(now=now, limit=data.count)


async def scheduled_occurrence(session: AsyncSession, rule: RecurringRule) -> Occurrence | None:
    """The occurrence the scheduler holds for ``rule`` now (None when none is pending)."""
    pending = await repository.pending_tasks(session, rule.tenant_code, rule.id)
    if not pending:
        return None
    on = date.fromisoformat(str(pending[0].payload["on"]))
    return recurrence_of(rule).occurrence(on)


async def ensure_next(
    session: AsyncSession, rule: RecurringRule, *, now: datetime, after_on: date | None = None
) -> Occurrence | None:
    """Make the rule's pending task the next occurrence not sent yet (after ``after_on``
    when given), cancelling any other; none when the rule is off. Returns that occurrence.

    With ``after_on`` (called from the task of that occurrence, running or being reported
    missed), that task is left to the scheduler."""
    pending = await repository.pending_tasks(session, rule.tenant_code, rule.id)
    chosen: Occurrence | None = None
    if rule.enabled:
        for occurrence in recurrence_of(rule).upcoming(now=now, after_on=after_on, limit=12):
            key = task_key(rule.id, occurrence.on)
            payload: dict[str, Any] = {"rule_id": rule.id, "on": occurrence.on.isoformat()}
            existing = await scheduler.get(
                session, tenant_code=rule.tenant_code, kind=KIND, key=key
            )
            if existing is not None and existing.state == TaskState.DONE:
                continue  # already sent (the rule was edited after it ran)
            if existing is None:
                await scheduler.schedule(
                    session,
                    tenant_code=rule.tenant_code,
                    kind=KIND,
                    key=key,
                    due_at=occurrence.send_at,
                    payload=payload,
                    now=now,
                )
            else:
                await scheduler.reschedule(
                    session,
                    tenant_code=rule.tenant_code,
                    kind=KIND,
                    key=key,
                    due_at=occurrence.send_at,
                    payload=payload,
                    now=now,
                )
            chosen = occurrence
            break
    keep = {task_key(rule.id, o.on) for o in (chosen,) if o is not None}
    if after_on is not None:
        keep.add(task_key(rule.id, after_on))
    for task in pending:
        if task.key not in keep:
            await scheduler.cancel(
                session, tenant_code=rule.tenant_code, kind=KIND, key=task.key, now=now
            )
    return chosen


def _send_until(occurrence: Occurrence) -> datetime:
    """The end of the event day (JST): a payment-day notice is pointless after it."""
    end = datetime.combine(occurrence.event_day + timedelta(days=1), time(), tzinfo=JST)
    return max(end, occurrence.send_at + timedelta(hours=1))


async def run_occurrence(
    session: AsyncSession,
    *,
    tenant_code: str,
    tenant_display_name: str,
    rule_id: int,
    on: date,
    now: datetime,
) -> int | None:
    """Create the occurrence's send job (once: the job's unique key) and schedule the next
    occurrence. Returns the job id (None: nothing sent — rule off or gone, too late, refused
    or created before)."""
    rule = await repository.get_rule(session, tenant_code, rule_id)
    if rule is None or not rule.enabled:
        return None
    occurrence = recurrence_of(rule).occurrence(on)
    send_until = _send_until(occurrence)
    job_id: int | None = None
    outcome = "created"
    if send_until <= now:
        outcome = "too_late"
    else:
        template = await _template_or_default(session, tenant_code, rule.template_id)
        messages = render(
            content_of(rule),
            template=template,
            tenant_name=tenant_display_name,
            event_day=occurrence.event_day,
        )
        try:
            job_id = await insert_send_job(
                session,
                tenant_code=tenant_code,
                publisher=LOCAL_PUBLISHER,
                notice_id=notice_id(rule.id, on),
                phase=Phase.NOTICE,
                spec=SegmentSpec.from_json(rule.spec).to_json(),
                messages=messages,
                send_until=send_until,
                now=now,
                approval=rule.mode,
            )
        except JobRefusedError as exc:
            outcome = f"refused: {exc}"[:300]
        else:
            if job_id is None:
                outcome = "exists"
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=ACTOR,
        action="recurring.send",
        at=now,
        count=0,
        detail={"rule_id": rule.id, "on": on.isoformat(), "job_id": job_id, "outcome": outcome},
    )
    await ensure_next(session, rule, now=now, after_on=on)
    return job_id


async def _template_or_default(
    session: AsyncSession, tenant_code: str, template_id: int | None
) -> TemplateFields | None:
    """A deleted template falls back to the default wording (a send is not lost for it)."""
    if template_id is None:
        return None
    template = await templates.get_template(session, tenant_code, template_id)
    return None if template is None else template_fields(template)


async def occurrence_missed(
    session: AsyncSession, *, tenant_code: str, rule_id: int, on: date, now: datetime
) -> None:
    """The node was down past the catch-up window: keep the chain going from ``on``."""
    rule = await repository.get_rule(session, tenant_code, rule_id)
    if rule is not None:
        await ensure_next(session, rule, now=now, after_on=on)
