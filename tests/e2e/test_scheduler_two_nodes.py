"""Two `todoke node serve` processes on one PostgreSQL database (plus the dispatch worker):
every campaign phase and every recurring notice that falls due fires exactly once — one send
job each, every friend gets each phase once — whichever process's scheduler claims it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from municipal_node.campaigns.service import task_key
from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.scheduler.models import ScheduledTask
from tests.e2e.conftest import TENANT, Federation
from tests.e2e.helpers import wait_until
from tests.e2e.test_campaign_processes import _outage
from tests.fixtures.database import backend
from tests.municipal_node.dispatch.processes import (
    counts,
    everyone_notice,
    finished,
    prepare,
    publish,
    sends,
)
from todoke.demo.processes import run_cli, start_service

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        backend() != "postgresql", reason="several node processes share PostgreSQL only"
    ),
]

FRIENDS = 60


async def _due_now(database_url: str, kind: str) -> list[str]:
    """Make every pending task of ``kind`` due a minute ago; their keys."""
    engine = create_engine(database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            keys = list(
                await session.scalars(
                    select(ScheduledTask.key).where(
                        ScheduledTask.kind == kind, ScheduledTask.state == "pending"
                    )
                )
            )
            await session.execute(
                update(ScheduledTask)
                .where(ScheduledTask.kind == kind, ScheduledTask.state == "pending")
                .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
            )
        return keys
    finally:
        await engine.dispose()


async def _task_states(database_url: str) -> dict[str, tuple[str, str | None]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(ScheduledTask.key, ScheduledTask.state, ScheduledTask.claimed_by)
            )
            return {key: (state, by) for key, state, by in rows}
    finally:
        await engine.dispose()


def test_two_node_processes_fire_every_phase_and_recurring_notice_once(
    federation: Federation,
) -> None:
    fed = federation
    prepare(fed, FRIENDS)
    second = start_service("node-2", ["node", "serve"], env=fed.node_env, workdir=fed.workdir)
    fed.services.append(second)
    database_url = fed.node_env["TODOKE_NODE_DATABASE_URL"]
    notice = everyone_notice()
    publish(fed, notice)
    wait_until("the notice to be sent", finished(fed, notice["notice_id"]), timeout=120)

    out = run_cli(
        ["node", "campaign-add", "--tenant", TENANT, "--publisher", "gov-cfa",
         "--notice-id", notice["notice_id"], "--json",
         "--quiet-start", "00:00", "--quiet-end", "00:00"],
        env=fed.node_env,
    ).stdout  # fmt: skip
    campaign_id = int(json.loads(out)["id"])
    run_cli(["node", "recurring-example", "--tenant", TENANT], env=fed.node_env)
    now = datetime.now(UTC)
    # all three phases due within the last minutes: both schedulers race for them
    asyncio.run(
        _outage(
            database_url,
            campaign_id,
            {
                "preview": now - timedelta(minutes=3),
                "open": now - timedelta(minutes=2),
                "reminder": now - timedelta(minutes=1),
            },
        )
    )
    [recurring_key] = asyncio.run(_due_now(database_url, "recurring"))

    def all_sent() -> bool:
        jobs = sends(fed)
        phases = sorted(j["phase"] for j in jobs if j["publisher"] == "gov-cfa")
        local = [j for j in jobs if j["publisher"] == "local"]
        return (
            phases == ["notice", "open", "preview", "reminder"]
            and len(local) == 1
            and all(j["state"] in {"done", "cancelled", "failed"} for j in jobs)
        )

    wait_until("both nodes to work through the due tasks", all_sent, timeout=180)
    jobs = sends(fed)
    assert len(jobs) == 5, jobs  # nothing fired twice, even after a while
    assert {j["state"] for j in jobs} == {"done"}
    for phase in ("preview", "open", "reminder"):
        [job] = [j for j in jobs if j["phase"] == phase]
        assert job["targeted"] == FRIENDS
    delivered = counts(fed)  # the notice and three phases, each exactly once
    assert (delivered["recipients"], delivered["max_per_recipient"]) == (FRIENDS, 4)
    states = asyncio.run(_task_states(database_url))
    for phase in ("preview", "open", "reminder"):
        assert states[task_key(campaign_id, phase)][0] == "done"
    assert states[recurring_key][0] == "done"
    # the chain goes on: exactly one next occurrence is pending
    pending = [k for k, (s, _) in states.items() if k.startswith("recurring:") and s == "pending"]
    assert len(pending) == 1
    assert second.process.poll() is None
