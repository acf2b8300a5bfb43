"""The ``recurring`` task: send one occurrence of a recurring notice, schedule the next."""

from __future__ import annotations

from datetime import date

from municipal_node.recurring import service
from municipal_node.recurring.repository import KIND
from municipal_node.scheduler.models import ScheduledTask
from municipal_node.scheduler.registry import TaskContext, handler, on_missed


@handler(KIND)
async def run_recurring(context: TaskContext, task: ScheduledTask) -> None:
    await service.run_occurrence(
        context.session,
        tenant_code=task.tenant_code,
        tenant_display_name=context.tenant.name,
        rule_id=int(task.payload["rule_id"]),
        on=date.fromisoformat(str(task.payload["on"])),
        now=context.now,
    )


@on_missed(KIND)
async def recurring_missed(context: TaskContext, task: ScheduledTask) -> None:
    await service.occurrence_missed(
        context.session,
        tenant_code=task.tenant_code,
        rule_id=int(task.payload["rule_id"]),
        on=date.fromisoformat(str(task.payload["on"])),
        now=context.now,
    )
