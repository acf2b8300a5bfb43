"""Planning streams the segment into committed chunks: resumable, cancellable, approvable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import update

from municipal_node.db.engine import unit_of_work
from municipal_node.dispatch import control, repository
from municipal_node.dispatch.models import Approval, SendJob
from municipal_node.dispatch.planner import PlanReport, create_job, plan_job
from municipal_node.dispatch.schemas import DispatchError
from municipal_node.tenants.service import load_config
from tests.municipal_node.dispatch.conftest import Rig, user
from tests.municipal_node.helpers import TENANT, make_notice


class Crash(Exception):
    """Stands for the process dying right after a chunk was committed."""


async def friends_and_notice(rig: Rig, friends: int) -> str:
    await rig.add_friends_directly([user(i) for i in range(friends)])
    notice = make_notice(audience={})
    await rig.relay(notice)
    return str(notice["notice_id"])


async def new_job(rig: Rig) -> int:
    async with rig.node.sessions() as session:
        config = await load_config(session, TENANT, sealer=rig.node.sealer)
        [notice_pk] = await repository.notices_to_plan(session, TENANT)
    assert config is not None
    async with unit_of_work(rig.node.sessions) as session:
        job_id = await create_job(
            session, tenant=config, notice_pk=notice_pk, now=rig.node.clock.now()
        )
    assert job_id is not None
    return job_id


async def plan(
    rig: Rig, job_id: int, on_chunk: Callable[[], None] | None = None
) -> PlanReport | None:
    return await plan_job(
        rig.node.sessions,
        sealer=rig.node.sealer,
        clock=rig.node.clock,
        tenant_code=TENANT,
        job_id=job_id,
        chunk_batches=2,
        page_size=300,
        on_chunk=on_chunk,
    )


async def test_a_crash_mid_planning_resumes_after_plan_after_without_gaps_or_repeats(
    rig: Rig,
) -> None:
    await rig.sandbox_post("/sandbox/channels/yatomi/friends", {"count": 2600})
    await friends_and_notice(rig, 2600)
    job_id = await new_job(rig)
    chunks = 0

    def crash_after_second_chunk() -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 2:
            raise Crash

    with pytest.raises(Crash):
        await plan(rig, job_id, on_chunk=crash_after_second_chunk)
    [job] = await rig.jobs()
    # the first batch is committed at once, then chunks of two
    assert (job.state, job.batches, job.targeted) == ("planning", 3, 1500)
    assert job.plan_after == sorted(user(i) for i in range(2600))[1499]
    # an auto job's committed batches go out while it is still planning
    assert (await rig.drain()).sent == 3
    assert (await rig.counts())["recipients"] == 1500

    report = await plan(rig, job_id)
    assert report is not None
    [job] = await rig.jobs()
    assert (job.state, job.batches, job.targeted) == ("sending", 6, 2600)
    batches = await rig.batches()
    assert [b.batch_no for b in batches] == list(range(6))
    assert [u for b in batches for u in b.user_ids] == sorted(user(i) for i in range(2600))
    assert len({b.retry_key for b in batches}) == 6
    await rig.dispatcher().run_once()
    counts = await rig.counts()
    assert (counts["recipients"], counts["duplicates"], counts["requests"]) == (2600, 0, 6)
    [job] = await rig.jobs()
    assert job.state == "done"


async def test_a_job_cancelled_while_planning_stops_at_its_next_chunk(rig: Rig) -> None:
    notice_id = await friends_and_notice(rig, 2600)
    job_id = await new_job(rig)
    cancelled: list[int] = []

    async def cancel() -> None:
        async with unit_of_work(rig.node.sessions) as session:
            cancelled.append(
                await control.cancel_notice(
                    session,
                    tenant_code=TENANT,
                    publisher="gov-cfa",
                    notice_id=notice_id,
                    actor="test",
                    now=rig.node.clock.now(),
                    reason="誤配信防止",
                )  # fmt: skip
            )

    loop_tasks: list[asyncio.Task[None]] = []
    report = await plan(
        rig, job_id, on_chunk=lambda: loop_tasks.append(asyncio.ensure_future(cancel()))
    )
    await asyncio.gather(*loop_tasks)
    assert report is None
    [job] = await rig.jobs()
    assert job.state == "cancelled" and job.reason == "誤配信防止"
    batches = await rig.batches()
    assert 0 < len(batches) < 6
    assert {b.state for b in batches} == {"cancelled"}
    assert cancelled[0] == len(batches)
    [status] = await rig.status()
    assert status["state"] == "cancelled"


async def test_an_approval_plan_is_held_counted_and_sends_nothing_until_released(
    rig: Rig,
) -> None:
    await rig.sandbox_post("/sandbox/channels/yatomi/friends", {"count": 700})
    await friends_and_notice(rig, 700)
    job_id = await new_job(rig)
    async with unit_of_work(rig.node.sessions) as session:
        await session.execute(
            update(SendJob).where(SendJob.id == job_id).values(approval=Approval.APPROVAL)
        )
    await plan(rig, job_id)
    await rig.dispatcher().run_once()
    [job] = await rig.jobs()
    assert (job.state, job.targeted, job.batches) == ("held", 700, 2)
    assert (await rig.counts())["requests"] == 0
    assert (await rig.status())[0]["state"] == "held"

    async with unit_of_work(rig.node.sessions) as session:
        await control.release(
            session, tenant_code=TENANT, job_id=job_id, actor="staff:approver1",
            now=rig.node.clock.now(),
        )  # fmt: skip
    await rig.dispatcher().run_once()
    counts = await rig.counts()
    assert (counts["recipients"], counts["duplicates"]) == (700, 0)
    [job] = await rig.jobs()
    assert job.state == "done"
    async with unit_of_work(rig.node.sessions) as session:
        with pytest.raises(DispatchError) as refused:
            await control.release(
                session, tenant_code=TENANT, job_id=job_id, actor="x", now=rig.node.clock.now()
            )
        assert refused.value.code == "NOT_HELD"
        with pytest.raises(DispatchError) as unknown:
            await control.release(
                session, tenant_code="23100", job_id=job_id, actor="x", now=rig.node.clock.now()
            )
        assert unknown.value.code == "SEND_NOT_FOUND"


async def test_a_second_job_for_the_same_notice_and_phase_is_impossible(rig: Rig) -> None:
    await friends_and_notice(rig, 10)
    job_id = await new_job(rig)
    [job] = await rig.jobs()
    values = {c.name: getattr(job, c.name) for c in SendJob.__table__.columns if c.name != "id"}
    async with unit_of_work(rig.node.sessions) as session:
        assert await repository.insert_job(session, values) is None
    assert [j.id for j in await rig.jobs()] == [job_id]
