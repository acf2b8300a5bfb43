"""Send jobs made by something other than a notice's arrival: campaign phases (issue #5),
recurring local notices and date triggers. They go through the same planner, outbox and
senders as a notice's own job; the unique key (tenant, publisher, notice_id, phase) makes a
second job for the same thing impossible, so a task that runs twice creates one job.

Recipients come from ``spec``: a ``SegmentSpec`` JSON, or, for date triggers,
``{"source": "trigger_fires", "fire_key": "<key>"}`` (the LINE users of the residents whose
trigger fired under that key; see ``municipal_node.dispatch.sources``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.delivery.line_client import InvalidMessagesError, MulticastTemplate
from municipal_node.dispatch import repository
from municipal_node.dispatch.keys import aggregation_unit_for
from municipal_node.dispatch.models import Approval, JobState

#: ``publisher`` of jobs that no hub notice stands behind (recurring notices, date triggers)
LOCAL_PUBLISHER = "local"


class JobRefusedError(ValueError):
    """The messages would be refused by LINE; the message says why (Japanese first)."""


async def insert_send_job(
    session: AsyncSession,
    *,
    tenant_code: str,
    publisher: str,
    notice_id: str,
    phase: str,
    spec: dict[str, Any],
    messages: list[dict[str, Any]],
    send_until: datetime,
    now: datetime,
    approval: str = Approval.AUTO,
    rule_id: int | None = None,
    exclude_campaign_id: int | None = None,
) -> int | None:
    """A ``planning`` job (the dispatcher plans and sends it); None when this (publisher,
    notice_id, phase) already has a job. ``notice_id`` is at most 26 characters."""
    if len(notice_id) > 26:
        raise ValueError(f"notice_id is at most 26 characters: {notice_id!r}")
    unit = aggregation_unit_for(tenant_code, publisher, notice_id, phase)
    try:
        MulticastTemplate(messages, unit)
    except InvalidMessagesError as exc:
        raise JobRefusedError(
            f"LINE が受け付けないメッセージです / LINE would refuse the messages: {exc}"
        ) from exc
    return await repository.insert_job(
        session,
        {
            "tenant_code": tenant_code,
            "publisher": publisher,
            "notice_id": notice_id,
            "phase": phase,
            "rule_id": rule_id,
            "approval": Approval.APPROVAL if approval == Approval.APPROVAL else Approval.AUTO,
            "spec": spec,
            "messages": messages,
            "aggregation_unit": unit,
            "state": JobState.PLANNING,
            "targeted": 0,
            "batches": 0,
            "plan_after": None,
            "exclude_campaign_id": exclude_campaign_id,
            "send_until": send_until,
            "reason": None,
            "created_at": now,
            "updated_at": now,
            "planned_at": None,
            "finished_at": None,
        },
    )
