"""Claims and leases: senders never share a batch; a crashed sender's batch is sent again with
the same retry key after its lease, and LINE's 409 makes that a delivery counted once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from municipal_node.db.engine import unit_of_work
from municipal_node.delivery.line_client import LineClient, SendResult
from municipal_node.delivery.ratelimit import TokenBucket
from municipal_node.dispatch.models import SendJob
from municipal_node.dispatch.sender import BatchSender, SendOptions
from tests.municipal_node.dispatch.conftest import Rig, user
from tests.municipal_node.helpers import CHANNEL_TOKEN, TENANT, make_notice


async def planned(rig: Rig, friends: int) -> None:
    await rig.sandbox_post("/sandbox/channels/yatomi/friends", {"count": friends})
    await rig.add_friends_directly([user(i) for i in range(friends)])
    await rig.relay(make_notice(audience={}))
    await rig.dispatcher().plan_round()


def sender(rig: Rig, client: LineClient, worker: str) -> BatchSender:
    return BatchSender(
        tenant_code=TENANT,
        sessions=rig.node.sessions,
        sealer=rig.node.sealer,
        clock=rig.node.clock,
        client=client,
        bucket=TokenBucket(rate=1000, burst=100),
        options=SendOptions(attempts=3, lease_seconds=30),
        worker=worker,
    )


def client(rig: Rig) -> LineClient:
    return LineClient(base_url=rig.sandbox.url, access_token=CHANNEL_TOKEN, timeout_seconds=5)


async def test_two_senders_claiming_at_once_never_get_the_same_batch(rig: Rig) -> None:
    await planned(rig, 5000)
    async with client(rig) as line:
        first, second = sender(rig, line, "worker-a"), sender(rig, line, "worker-b")
        a, b = await asyncio.gather(first.claim(4), second.claim(4))
        rest = await first.claim(10)
        assert len(a) == len(b) == 4 and len(rest) == 2
        ids = [batch.id for batch in (*a, *b, *rest)]
        assert len(set(ids)) == 10
        assert await second.claim(10) == []  # everything is leased
    batches = await rig.batches()
    assert {batch.claimed_by for batch in batches} == {"worker-a", "worker-b"}
    assert all(batch.lease_until is not None for batch in batches)


async def test_a_lapsed_lease_is_claimed_again_and_the_resend_is_counted_once(rig: Rig) -> None:
    await planned(rig, 300)
    async with client(rig) as line:
        crashed = sender(rig, line, "crashed")
        [batch] = await crashed.claim(5)
        # the crashed sender's request reached LINE, then it died before recording anything
        job = await crashed._job(batch.job_id)
        assert job.template is not None
        outcome = await line.multicast(
            job.template.request(batch.user_ids), retry_key=batch.retry_key
        )
        assert outcome.result is SendResult.SENT and outcome.status == 200

        other = sender(rig, line, "other")
        assert await other.claim(5) == []  # still leased
        rig.node.clock.set(rig.node.clock.now() + timedelta(seconds=31))
        [again] = await other.claim(5)
        assert (again.id, again.retry_key) == (batch.id, batch.retry_key)
        assert await other.send(again) is SendResult.SENT
    [stored] = await rig.batches()
    assert (stored.state, stored.sent_count, stored.claimed_by) == ("sent", 300, None)
    counts = await rig.counts()
    assert (counts["recipients"], counts["duplicates"], counts["requests"]) == (300, 0, 1)
    [job_row] = await rig.jobs()
    assert job_row.state == "done"


async def test_handing_back_claims_makes_them_claimable_at_once(rig: Rig) -> None:
    await planned(rig, 1000)
    async with client(rig) as line:
        leaving = sender(rig, line, "leaving")
        claimed = await leaving.claim(2)
        await leaving.release(claimed)
        assert [b.id for b in await sender(rig, line, "next").claim(2)] == [b.id for b in claimed]


async def test_a_held_job_has_nothing_to_claim(rig: Rig) -> None:
    await planned(rig, 600)
    async with unit_of_work(rig.node.sessions) as session:
        await session.execute(update(SendJob).values(state="held"))
    async with client(rig) as line:
        assert await sender(rig, line, "w").claim(10) == []


async def test_a_stopping_sender_pool_hands_back_what_it_has_not_sent(rig: Rig) -> None:
    await planned(rig, 3000)  # 6 batches
    dispatcher = rig.dispatcher(multicast_rate=2, multicast_burst=1, concurrency=2)
    pool = dispatcher.senders
    assert pool is not None
    stop = asyncio.Event()
    running = asyncio.create_task(pool.run(stop))
    for _ in range(200):
        if (await rig.counts())["requests"] >= 1:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, timeout=30)
    batches = await rig.batches()
    sent = [b for b in batches if b.state == "sent"]
    assert 1 <= len(sent) < 6
    assert all(b.claimed_by is None and b.lease_until is None for b in batches)
    assert (await rig.counts())["requests"] == len(sent)
