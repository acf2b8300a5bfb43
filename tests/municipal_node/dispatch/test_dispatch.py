"""Selection and dispatch end to end: REAL hub → node follower → node dispatcher → REAL sandbox.

Friendship reaches the node the way LINE sends it: the sandbox posts signed follow/unfollow
webhooks to the node served on loopback.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.dispatch.keys import aggregation_unit_for
from tests.municipal_node.dispatch.conftest import Rig, user
from tests.municipal_node.helpers import CHANNEL, TENANT, make_notice, write_csv


def population(tmp_path: Path) -> Path:
    """Users 0..9 single parents, 10..14 elderly, 15..19 none; 20..24 single parents not linked.
    Residents R30..R34 are single parents linked to users 30..34, who never follow."""
    rows = []
    for i in range(20):
        household = "single_parent;child_rearing" if i < 10 else ("elderly" if i < 15 else "")
        rows.append((f"R{i:03d}", household, "2019-05-01", "東町", "", user(i)))
    rows += [(f"R{i:03d}", "single_parent", "", "", "", "") for i in range(20, 25)]
    rows += [(f"R{i:03d}", "single_parent", "", "", "", user(i)) for i in range(30, 35)]
    return write_csv(tmp_path / "residents.csv", rows)


async def multicasts(rig: Rig) -> list[dict[str, object]]:
    response = await rig.http.get(f"{rig.sandbox.url}/sandbox/exchanges")
    return [e for e in response.json() if e["path"] == "/v2/bot/message/multicast"]


async def test_exactly_the_matching_friends_receive_exactly_one_message(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    notice = make_notice(audience={"household": ["single_parent"]})
    await rig.relay(notice)
    report = await rig.dispatcher().run_once()
    assert (report.planned, report.sent_batches) == (1, 1)
    received = {i for i in [*range(25), *range(30, 35)] if await rig.inbox(i)}
    assert received == set(range(10))
    [delivery] = await rig.inbox(0)
    assert [m["type"] for m in delivery["messages"]] == ["text", "flex"]
    assert "現況届の受付が始まりました" in delivery["messages"][0]["text"]
    [request] = await multicasts(rig)
    body = json.loads(str(request["request_body"]))
    unit = aggregation_unit_for(TENANT, "gov-cfa", notice["notice_id"], "notice")
    assert body["customAggregationUnits"] == [unit]
    assert await rig.dispatcher().run_once() == type(report)(0, 0, 0, 0)  # nothing more to do
    [status] = await rig.status()
    assert (status["state"], status["targeted"], status["sent"], status["failed"]) == (
        "done",
        10,
        10,
        0,
    )
    assert status["by_household"] == {
        "child_rearing": {"targeted": 10, "sent": 10, "failed": 0},
        "single_parent": {"targeted": 10, "sent": 10, "failed": 0},
    }
    [job] = await rig.jobs()
    assert (job.state, job.targeted, job.batches, job.phase) == ("done", 10, 1, "notice")
    async with rig.node.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["notice.plan", "line.multicast"]


async def test_recipients_are_cut_into_batches_of_at_most_500(rig: Rig, tmp_path: Path) -> None:
    rows = [(f"R{i:05d}", "child_rearing", "", "", "", user(i)) for i in range(1201)]
    await rig.node.import_csv(write_csv(tmp_path / "many.csv", rows))
    await rig.sandbox_post(f"/sandbox/channels/{CHANNEL}/friends", {"count": 1201})
    await rig.add_friends_directly([user(i) for i in range(1201)])
    await rig.relay(make_notice(audience={"household": ["child_rearing"]}))
    await rig.dispatcher().run_once()
    batches = await rig.batches()
    assert [b.recipient_count for b in batches] == [500, 500, 201]
    assert len({b.retry_key for b in batches}) == 3
    all_ids = [u for b in batches for u in b.user_ids]
    assert all_ids == sorted(user(i) for i in range(1201))  # streamed in user id order, once
    counts = await rig.counts()
    assert (counts["requests"], counts["recipients"], counts["duplicates"]) == (3, 1201, 0)


async def test_a_409_after_an_unanswered_accept_counts_as_sent(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    # LINE accepts the first request but the answer is lost (500); the retry gets 409
    await rig.sandbox_post(
        f"/sandbox/channels/{CHANNEL}/faults",
        {"endpoint": "multicast", "status": 500, "count": 1, "process": True},
    )
    await rig.relay(make_notice())
    first = await rig.dispatcher().run_once()
    assert (first.sent_batches, first.retry_later) == (0, 1)
    rig.node.clock.set(rig.node.clock.now() + timedelta(minutes=1))  # past the backoff
    await rig.dispatcher().run_once()
    [batch] = await rig.batches()
    assert (batch.state, batch.attempts, batch.sent_count) == ("sent", 2, 10)
    assert [len(await rig.inbox(i)) for i in range(10)] == [1] * 10


async def test_server_errors_are_retried_later_with_backoff_then_sent(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.sandbox_post(
        f"/sandbox/channels/{CHANNEL}/faults", {"endpoint": "multicast", "status": 503, "count": 2}
    )
    await rig.relay(make_notice())
    first = await rig.dispatcher(attempts=5).run_once()
    assert (first.sent_batches, first.retry_later) == (0, 1)
    [batch] = await rig.batches()
    assert (batch.state, batch.attempts, batch.claimed_by) == ("pending", 1, None)
    assert batch.lease_until is not None and batch.lease_until > rig.node.clock.now()
    assert "503" in (batch.last_error or "")
    assert (await rig.status())[0]["state"] == "sending"
    # not before its backoff: the same round finds nothing to send
    assert (await rig.dispatcher(attempts=5).run_once()).retry_later == 0
    for _ in range(2):
        rig.node.clock.set(rig.node.clock.now() + timedelta(minutes=1))
        await rig.dispatcher(attempts=5).run_once()
    [batch] = await rig.batches()
    assert (batch.state, batch.attempts) == ("sent", 3)
    assert [len(await rig.inbox(i)) for i in range(10)] == [1] * 10


async def test_a_batch_that_keeps_failing_gives_up_after_the_configured_attempts(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.sandbox_post(
        f"/sandbox/channels/{CHANNEL}/faults", {"endpoint": "multicast", "status": 500, "count": 9}
    )
    await rig.relay(make_notice())
    for _ in range(3):
        await rig.dispatcher(attempts=3).run_once()
        rig.node.clock.set(rig.node.clock.now() + timedelta(minutes=1))
    [batch] = await rig.batches()
    assert (batch.state, batch.attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in (batch.last_error or "")
    [job] = await rig.jobs()
    assert job.state == "failed" and "every batch failed" in (job.reason or "")
    assert [len(await rig.inbox(i)) for i in range(10)] == [0] * 10


async def test_users_who_unfollow_after_planning_are_dropped_at_send_time(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice())
    await rig.dispatcher().plan_round()
    await rig.unfollow([0, 1, 2])
    await rig.dispatcher().run_once()
    assert [len(await rig.inbox(i)) for i in range(10)] == [0, 0, 0] + [1] * 7
    [status] = await rig.status()
    assert (status["targeted"], status["sent"], status["state"]) == (10, 7, "done")
    assert status["by_household"]["single_parent"] == {"targeted": 10, "sent": 7, "failed": 0}
    assert (await rig.counts())["requests"] == 1
    stats = await rig.stats()
    assert stats["not_delivered_recipients"] == 0  # the node never asked LINE for them


async def test_a_batch_whose_users_all_unfollowed_is_sent_to_nobody(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice())
    await rig.dispatcher().plan_round()
    await rig.unfollow(list(range(10)))
    await rig.dispatcher().run_once()
    [batch] = await rig.batches()
    assert (batch.state, batch.sent_count, batch.attempts) == ("sent", 0, 0)
    assert (await rig.counts())["requests"] == 0


async def test_a_client_error_fails_the_batch_for_good_with_the_reason(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.sandbox_post(
        f"/sandbox/channels/{CHANNEL}/faults", {"endpoint": "multicast", "status": 400, "count": 1}
    )
    await rig.relay(make_notice())
    await rig.dispatcher().run_once()
    [batch] = await rig.batches()
    assert (batch.state, batch.attempts) == ("failed", 1)
    assert "400" in (batch.last_error or "")
    [status] = await rig.status()
    assert (status["state"], status["sent"], status["failed"]) == ("failed", 0, 10)
    assert status["by_household"]["single_parent"] == {"targeted": 10, "sent": 0, "failed": 10}


async def test_test_status_and_expired_notices_reach_nobody(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice(status="Test"))
    await rig.relay(make_notice())
    rig.node.clock.set(rig.node.clock.now() + timedelta(days=61))  # past expires
    await rig.dispatcher().run_once()
    assert (await rig.counts())["requests"] == 0
    states = [(s["status"], s["state"]) for s in await rig.status()]
    assert states == [("Test", "skipped"), ("Actual", "skipped")]


async def test_a_send_that_expires_midway_stops_sending(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice())
    await rig.dispatcher().plan_round()
    rig.node.clock.set(rig.node.clock.now() + timedelta(days=61))
    await rig.dispatcher().run_once()
    assert (await rig.counts())["requests"] == 0
    [job] = await rig.jobs()
    assert job.state == "cancelled" and "expired" in (job.reason or "")
    assert [b.state for b in await rig.batches()] == ["cancelled"]


async def test_no_matching_friend_means_done_with_nothing_sent(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice(audience={"household": ["pregnant"]}))
    await rig.dispatcher().run_once()
    [status] = await rig.status()
    assert (status["state"], status["targeted"]) == ("done", 0)
    assert await rig.batches() == []
