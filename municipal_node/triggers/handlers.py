"""The ``triggers_daily`` task: fire the tenant's date triggers for one day."""

from __future__ import annotations

from datetime import date

from municipal_node.scheduler.models import ScheduledTask
from municipal_node.scheduler.registry import TaskContext, handler, on_missed
from municipal_node.triggers import service
from municipal_node.triggers.repository import KIND


@handler(KIND)
async def run_triggers_daily(context: TaskContext, task: ScheduledTask) -> None:
    await service.run_daily(
        context.session,
        sealer=context.sealer,
        tenant_code=task.tenant_code,
        tenant_name=context.tenant.name,
        day=date.fromisoformat(str(task.payload["day"])),
        now=context.now,
    )


@on_missed(KIND)
async def triggers_daily_missed(context: TaskContext, task: ScheduledTask) -> None:
    """A day missed while the node was down: the next run starts today. Children whose event
    is still ahead are reached then (``definitions``: due until the event day)."""
    await service.ensure_daily(
        context.session,
        tenant_code=task.tenant_code,
        now=context.now,
        after_day=date.fromisoformat(str(task.payload["day"])),
    )
