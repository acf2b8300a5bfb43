"""Two schedulers on separate engines (two connection pools, as two node processes have) run
the same due tasks at the same time: every task's effect is committed exactly once. On
PostgreSQL the claim is ``FOR UPDATE SKIP LOCKED``; on SQLite the claim is one UPDATE under the
database's write lock."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.scheduler import service
from municipal_node.scheduler.models import ScheduledTask, TaskState
from municipal_node.scheduler.runner import Scheduler
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.scheduler.conftest import Kinds, runs

TASKS = 60


async def test_two_schedulers_run_every_task_exactly_once(node: Node, kinds: Kinds) -> None:
    await node.add_tenant()
    now = node.clock.now()
    async with unit_of_work(node.sessions) as session:
        for index in range(TASKS):
            await service.schedule(
                session, tenant_code=TENANT, kind="test_echo", key=f"t{index:03d}",
                due_at=now - timedelta(minutes=index % 7), payload={}, now=now,
            )  # fmt: skip
    engines = [create_engine(node.settings.database_url) for _ in range(2)]
    try:
        schedulers = [
            Scheduler(
                sessions=session_factory(engine),
                sealer=node.sealer,
                clock=node.clock,
                worker_id=f"node-{i}",
            )
            for i, engine in enumerate(engines)
        ]

        async def drain(runner: Scheduler) -> int:
            total = 0
            while handled := await runner.run_once(TENANT):
                total += handled
                await asyncio.sleep(0)
            return total

        handled = await asyncio.gather(*(drain(runner) for runner in schedulers))
    finally:
        for engine in engines:
            await engine.dispose()
    ran = await runs(node)
    assert Counter(ran).most_common(1)[0][1] == 1, "a task ran twice"
    assert sorted(ran) == [f"t{index:03d}" for index in range(TASKS)]
    assert sum(handled) == TASKS
    async with node.sessions() as session:
        states = await session.execute(
            select(ScheduledTask.state, ScheduledTask.claimed_by, func.count()).group_by(
                ScheduledTask.state, ScheduledTask.claimed_by
            )
        )
        by_worker = {(state, worker): count for state, worker, count in states}
    assert sum(by_worker.values()) == TASKS
    assert all(state == TaskState.DONE for state, _ in by_worker)
