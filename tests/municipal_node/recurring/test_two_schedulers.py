"""Two schedulers on separate engines (as two node processes) share the due recurring notices
and the daily trigger run: each occurrence and each day runs once (one audit record each)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.db.engine import create_engine, session_factory
from municipal_node.dispatch.models import SendJob
from municipal_node.scheduler.models import ScheduledTask
from municipal_node.scheduler.runner import Scheduler
from municipal_node.segments.ages import JST
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.recurring.test_api import BASE, payment_rule
from tests.municipal_node.staff.client import OPERATOR
from tests.municipal_node.triggers.test_daily import population, switch_on

RULES = 6


async def test_two_schedulers_send_each_occurrence_and_fire_each_day_once(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await population(node, tmp_path)
    await switch_on(node_http, "checkup_4m")
    for index in range(RULES):
        created = await node_http.post(
            f"{BASE}/recurring-rules",
            json=payment_rule(
                name=f"rule-{index}",
                rrule="FREQ=MONTHLY;BYMONTHDAY=15",
                lead_days=0,
                adjust="none",
                send_time=f"08:{index * 5:02d}",
            ),
            headers=OPERATOR,
        )
        assert created.status_code == 201, created.text
    # every rule's April 15 occurrence (08:00…08:25) and the 4/15 trigger day are due
    node.clock.set(datetime(2026, 4, 15, 9, 0, tzinfo=JST))
    async with node.sessions() as session:
        for task in await session.scalars(select(ScheduledTask)):
            if task.kind == "triggers_daily":
                task.due_at = datetime(2026, 4, 15, 9, 0, tzinfo=JST)
                task.payload = {"day": "2026-04-15"}
                task.key = "triggers_daily:2026-04-15"
        await session.commit()
    engines = [create_engine(node.settings.database_url) for _ in range(2)]
    try:
        runners = [
            Scheduler(
                sessions=session_factory(engine),
                sealer=node.sealer,
                clock=node.clock,
                worker_id=f"node-{i}",
            )  # fmt: skip
            for i, engine in enumerate(engines)
        ]

        async def drain(runner: Scheduler) -> int:
            total = 0
            while handled := await runner.run_once(TENANT):
                total += handled
                await asyncio.sleep(0)
            return total

        handled = await asyncio.gather(*(drain(runner) for runner in runners))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(handled) == RULES + 1
    async with node.sessions() as session:
        sends = list(
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == "recurring.send")
            )
        )
        scans = list(
            await session.scalars(select(AuditEntry.id).where(AuditEntry.action == "triggers.scan"))
        )
        jobs = list(await session.scalars(select(SendJob.notice_id).order_by(SendJob.notice_id)))
    assert sorted(entry["outcome"] for entry in sends) == ["created"] * RULES
    assert len(scans) == 1
    assert len(jobs) == RULES + 1 and "checkup_4m-20260415" in jobs
