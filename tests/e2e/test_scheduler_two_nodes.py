"""Two `todoke node serve` processes on one PostgreSQL database (plus the dispatch worker):
every campaign phase, every recurring notice and every date trigger that falls due fires
exactly once — one send job each, every friend gets each phase once, each linked child's
checkup notice reaches its parent once — whichever process's scheduler claims it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select, update

from municipal_node.campaigns.service import task_key
from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.line import repository as line_repository
from municipal_node.line.topics import TOPICS
from municipal_node.scheduler.models import ScheduledTask
from municipal_node.segments.ages import jst_date
from municipal_node.triggers.definitions import fire_key
from tests.e2e.conftest import TENANT, Federation
from tests.e2e.helpers import wait_until
from tests.e2e.test_campaign_processes import _outage
from tests.fixtures.database import backend
from tests.municipal_node.dispatch.processes import (
    count_of,
    counts,
    everyone_notice,
    finished,
    friend,
    prepare,
    publish,
    sends,
)
from tests.municipal_node.helpers import write_csv
from todoke.demo.processes import run_cli, start_service

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        backend() != "postgresql", reason="several node processes share PostgreSQL only"
    ),
]

FRIENDS = 60
#: friends 0..PARENTS-1 are linked to a resident whose baby's 4-month checkup is coming up
PARENTS = 5


async def _choose_every_topic(database_url: str, users: list[str]) -> None:
    """受信設定 as the residents would set it from the rich menu: every topic."""
    engine = create_engine(database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            for user in users:
                await line_repository.save_preference(
                    session,
                    tenant_code=TENANT,
                    user_id=user,
                    topics=list(TOPICS),
                    stopped=False,
                    declared_sealed=None,
                    now=datetime.now(UTC),
                )
    finally:
        await engine.dispose()


def _link_parents(fed: Federation) -> None:
    """Residents with a baby born 3 months and 10 days ago (its 4-month checkup notice is due
    today and tomorrow, JST), each linked to a friend through the core-system CSV, plus one
    resident linked to nobody."""
    born = jst_date(datetime.now(UTC)) - relativedelta(months=3, days=10)
    rows = [
        (f"P{i:04d}", "child_rearing", born.isoformat(), "東町", "", friend(i))
        for i in range(PARENTS)
    ]
    rows.append(("P9999", "child_rearing", born.isoformat(), "東町", "", ""))
    csv_path = write_csv(fed.workdir / "parents.csv", rows)
    run_cli(
        ["node", "import-residents", "--tenant", TENANT, "--no-progress", str(csv_path)],
        env=fed.node_env,
    )
    asyncio.run(
        _choose_every_topic(
            fed.node_env["TODOKE_NODE_DATABASE_URL"], [friend(i) for i in range(PARENTS)]
        )
    )


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


def test_two_node_processes_fire_every_phase_recurring_notice_and_trigger_once(
    federation: Federation,
) -> None:
    fed = federation
    prepare(fed, FRIENDS)
    second = start_service("node-2", ["node", "serve"], env=fed.node_env, workdir=fed.workdir)
    fed.services.append(second)
    database_url = fed.node_env["TODOKE_NODE_DATABASE_URL"]
    _link_parents(fed)
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
    run_cli(
        ["node", "trigger-set", "--tenant", TENANT, "--trigger", "checkup_4m"], env=fed.node_env
    )
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
    [daily_key] = asyncio.run(_due_now(database_url, "triggers_daily"))
    trigger_job = fire_key("checkup_4m", datetime.fromisoformat(daily_key.split(":")[1]).date())

    def all_sent() -> bool:
        jobs = sends(fed)
        phases = sorted(j["phase"] for j in jobs if j["publisher"] == "gov-cfa")
        local = sorted(j["notice_id"] == trigger_job for j in jobs if j["publisher"] == "local")
        return (
            phases == ["notice", "open", "preview", "reminder"]
            and local == [False, True]
            and all(j["state"] in {"done", "cancelled", "failed"} for j in jobs)
        )

    wait_until("both nodes to work through the due tasks", all_sent, timeout=180)
    jobs = sends(fed)
    assert len(jobs) == 6, jobs  # nothing fired twice, even after a while
    assert {j["state"] for j in jobs} == {"done"}
    for phase in ("preview", "open", "reminder"):
        [job] = [j for j in jobs if j["phase"] == phase]
        assert job["targeted"] == FRIENDS
    [job] = [j for j in jobs if j["notice_id"] == trigger_job]
    assert job["targeted"] == PARENTS
    # the notice and three phases to everyone, the checkup notice to each parent: once each
    delivered = counts(fed)
    assert (delivered["recipients"], delivered["max_per_recipient"]) == (FRIENDS, 5)
    assert [count_of(fed, friend(i)) for i in range(PARENTS)] == [5] * PARENTS
    assert count_of(fed, friend(PARENTS)) == 4
    states = asyncio.run(_task_states(database_url))
    for phase in ("preview", "open", "reminder"):
        assert states[task_key(campaign_id, phase)][0] == "done"
    assert states[recurring_key][0] == "done"
    assert states[daily_key][0] == "done"
    # the chains go on: exactly one next occurrence and one next daily run are pending
    for prefix in ("recurring:", "triggers_daily:"):
        pending = [k for k, (s, _) in states.items() if k.startswith(prefix) and s == "pending"]
        assert len(pending) == 1, (prefix, pending)
    assert second.process.poll() is None
