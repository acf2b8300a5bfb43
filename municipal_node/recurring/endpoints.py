"""``/api/tenants/{code}/recurring-rules`` (定期通知) and ``/api/tenants/{code}/triggers``
(日付トリガー): editors write, viewers read (admin implies both)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.recurring import repository, service
from municipal_node.recurring.models import RecurringRule
from municipal_node.recurring.schemas import (
    OccurrenceOut,
    PreviewIn,
    PreviewOut,
    RecurringRuleIn,
    RecurringRuleOut,
)
from municipal_node.segments.http_errors import ApiRoute
from municipal_node.triggers import service as triggers
from municipal_node.triggers.schemas import TriggerOut, TriggerSettingIn

router = APIRouter(prefix="/api/tenants/{code}", route_class=ApiRoute, tags=["recurring"])

Editor = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR))]
Viewer = Annotated[TenantAccess, Depends(tenant_access(Role.VIEWER, Role.EDITOR, Role.APPROVER))]

UPCOMING = 3


async def _out(session: AsyncSession, rule: RecurringRule, state: StateDep) -> RecurringRuleOut:
    scheduled = await service.scheduled_occurrence(session, rule)
    upcoming = []
    if scheduled is not None:
        upcoming = service.recurrence_of(rule).upcoming(
            now=state.clock.now(), after_on=scheduled.on, limit=UPCOMING
        )
    return RecurringRuleOut.of(rule, scheduled=scheduled, upcoming=upcoming)


@router.get("/recurring-rules")
async def list_rules(
    access: Viewer, session: SessionDep, state: StateDep
) -> list[RecurringRuleOut]:
    rules = await repository.list_rules(session, access.tenant_code)
    return [await _out(session, rule, state) for rule in rules]


@router.post("/recurring-rules", status_code=201)
async def create_rule(
    access: Editor, body: RecurringRuleIn, session: SessionDep, state: StateDep
) -> RecurringRuleOut:
    rule = await service.create(
        session,
        tenant_code=access.tenant_code,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
    return await _out(session, rule, state)


@router.post("/recurring-rules/preview")
async def preview_rule(access: Viewer, body: PreviewIn, state: StateDep) -> PreviewOut:
    """The next occurrences of an unsaved rule (JST send times, holidays applied)."""
    occurrences = service.preview(body, now=state.clock.now())
    return PreviewOut(occurrences=[OccurrenceOut.of(o) for o in occurrences])


@router.get("/recurring-rules/{rule_id}")
async def get_rule(
    access: Viewer, rule_id: int, session: SessionDep, state: StateDep
) -> RecurringRuleOut:
    rule = await service.get(session, tenant_code=access.tenant_code, rule_id=rule_id)
    return await _out(session, rule, state)


@router.put("/recurring-rules/{rule_id}")
async def replace_rule(
    access: Editor, rule_id: int, body: RecurringRuleIn, session: SessionDep, state: StateDep
) -> RecurringRuleOut:
    rule = await service.replace(
        session,
        tenant_code=access.tenant_code,
        rule_id=rule_id,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
    return await _out(session, rule, state)


@router.get("/triggers")
async def list_triggers(access: Viewer, session: SessionDep) -> list[TriggerOut]:
    return await triggers.list_triggers(session, tenant_code=access.tenant_code)


@router.post("/triggers")
async def set_trigger(
    access: Editor, body: TriggerSettingIn, session: SessionDep, state: StateDep
) -> TriggerOut:
    """Switch one trigger on/off and set its wording (the trigger is named in the body)."""
    return await triggers.set_trigger(
        session,
        tenant_code=access.tenant_code,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
