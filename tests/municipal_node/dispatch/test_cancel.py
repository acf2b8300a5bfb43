"""Stopping sends: staff cancel (API, CLI-equivalent service), hub Cancel, hub Update."""

from __future__ import annotations

from typing import Any

from municipal_node.delivery.line_client import LineClient, SendResult
from municipal_node.delivery.ratelimit import TokenBucket
from municipal_node.dispatch.sender import BatchSender, SendOptions
from tests.municipal_node.dispatch.conftest import Rig, user
from tests.municipal_node.dispatch.successors import successor
from tests.municipal_node.helpers import CHANNEL, CHANNEL_TOKEN, TENANT, make_notice


async def planned(rig: Rig, friends: int) -> dict[str, Any]:
    await rig.sandbox_post(f"/sandbox/channels/{CHANNEL}/friends", {"count": friends})
    await rig.add_friends_directly([user(i) for i in range(friends)])
    notice = make_notice(audience={})
    await rig.relay(notice)
    await rig.dispatcher().plan_round()
    return notice


def sender(rig: Rig, line: LineClient) -> BatchSender:
    return BatchSender(
        tenant_code=TENANT,
        sessions=rig.node.sessions,
        sealer=rig.node.sealer,
        clock=rig.node.clock,
        client=line,
        bucket=TokenBucket(rate=1000, burst=100),
        options=SendOptions(attempts=5, lease_seconds=30),
        worker="test-sender",
    )


async def send_some(rig: Rig, count: int) -> None:
    async with LineClient(
        base_url=rig.sandbox.url, access_token=CHANNEL_TOKEN, timeout_seconds=5
    ) as line:
        one = sender(rig, line)
        for batch in await one.claim(count):
            assert await one.send(batch) is SendResult.SENT


async def cancel(rig: Rig, notice: dict[str, Any], **body: Any) -> Any:
    return await rig.api(
        "POST", f"/notices/{notice['publisher']}/{notice['notice_id']}/cancel", json=body
    )


async def test_a_staff_cancel_mid_send_stops_every_pending_batch_at_once(rig: Rig) -> None:
    notice = await planned(rig, 5000)
    await send_some(rig, 3)
    response = await cancel(rig, notice, reason="内容に誤りがあったため")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "publisher": "gov-cfa",
        "notice_id": notice["notice_id"],
        "cancelled_batches": 7,
        "notice_state": "cancelled",
    }
    report = await rig.dispatcher().run_once()
    assert report.sent_batches == 0
    counts = await rig.counts()
    assert (counts["recipients"], counts["duplicates"], counts["requests"]) == (1500, 0, 3)
    [job] = (await rig.api("GET", "/sends")).json()
    assert (job["state"], job["reason"]) == ("cancelled", "内容に誤りがあったため")
    assert (job["counts"]["sent"], job["counts"]["cancelled"], job["counts"]["pending"]) == (
        3,
        7,
        0,
    )
    assert job["counts"]["recipients_cancelled"] == 3500
    again = await cancel(rig, notice, reason="二度目")
    assert again.status_code == 409
    assert again.json()["detail"]["code"] == "NOTHING_TO_CANCEL"


async def test_a_request_in_flight_during_a_cancel_is_recorded_as_what_happened(
    rig: Rig,
) -> None:
    notice = await planned(rig, 1000)
    async with LineClient(
        base_url=rig.sandbox.url, access_token=CHANNEL_TOKEN, timeout_seconds=5
    ) as line:
        one = sender(rig, line)
        first, second = await one.prepare(await one.claim(2))  # checked: about to go out
        response = await cancel(rig, notice, reason="取消")
        assert response.json()["cancelled_batches"] == 2
        sent = await one.attempt(first)  # it reached LINE: recorded as sent
        assert sent.outcome.result is SendResult.SENT
        await rig.sandbox_post(
            f"/sandbox/channels/{CHANNEL}/faults",
            {"endpoint": "multicast", "status": 503, "count": 1},
        )
        failed = await one.attempt(second)  # comes back: not sent again
        assert failed.outcome.result is SendResult.RETRY_LATER
        await one.record([sent, failed])
    await rig.dispatcher().run_once()
    states = [b.state for b in await rig.batches()]
    assert states == ["sent", "cancelled"]
    assert (await rig.counts())["recipients"] == 500


async def test_a_batch_claimed_before_a_cancel_but_not_sent_yet_is_withdrawn(rig: Rig) -> None:
    notice = await planned(rig, 1000)
    async with LineClient(
        base_url=rig.sandbox.url, access_token=CHANNEL_TOKEN, timeout_seconds=5
    ) as line:
        one = sender(rig, line)
        claimed = await one.claim(2)  # prefetched by a sender, not checked yet
        assert (await cancel(rig, notice, reason="取消")).status_code == 200
        prepared = await one.prepare(claimed)
        assert [p.withdrawn for p in prepared] == [True, True]
        await one.record([await one.attempt(p) for p in prepared])
    assert [b.state for b in await rig.batches()] == ["cancelled", "cancelled"]
    assert (await rig.counts())["requests"] == 0


async def test_cancel_needs_a_reason_and_a_known_notice_and_changes_nothing_otherwise(
    rig: Rig,
) -> None:
    notice = await planned(rig, 600)
    for body in ({}, {"reason": "   "}):
        response = await cancel(rig, notice, **body)
        assert response.status_code == 422
        assert response.json()["detail"]["code"] == "REASON_REQUIRED"
        assert response.json()["detail"]["message"].startswith("取消の理由")
    unknown = await rig.api(
        "POST", "/notices/gov-cfa/01JF0000000000000000000000/cancel", json={"reason": "x"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["code"] == "NOTICE_NOT_FOUND"
    extra = await cancel(rig, notice, reason="x", force=True)
    assert extra.status_code == 422
    assert {b.state for b in await rig.batches()} == {"pending"}
    [job] = await rig.jobs()
    assert job.state == "sending"


async def test_a_hub_cancel_stops_the_pending_rest_of_the_notice(rig: Rig) -> None:
    notice = await planned(rig, 2000)
    await send_some(rig, 1)
    cancel_notice = successor(notice, "Cancel")
    await rig.relay(cancel_notice)
    await rig.dispatcher().run_once()
    counts = await rig.counts()
    assert (counts["recipients"], counts["requests"]) == (500, 1)
    assert [b.state for b in await rig.batches()] == ["sent", "cancelled", "cancelled", "cancelled"]
    status = {s["notice_id"]: s for s in await rig.status()}
    assert status[notice["notice_id"]]["state"] == "cancelled"
    assert "制度改正により取り消します" in status[notice["notice_id"]]["reason"]
    assert status[cancel_notice["notice_id"]]["state"] == "done"
    assert len(await rig.jobs()) == 1  # a Cancel sends nothing itself


async def test_a_cancel_before_planning_means_the_notice_is_never_planned(rig: Rig) -> None:
    await rig.add_friends_directly([user(i) for i in range(10)])
    notice = make_notice(audience={})
    await rig.relay(notice)
    await rig.relay(successor(notice, "Cancel"))
    await rig.dispatcher().run_once()
    assert await rig.jobs() == []
    assert (await rig.counts())["requests"] == 0


async def test_a_hub_update_replaces_the_pending_rest_and_is_sent_as_its_own_job(
    rig: Rig,
) -> None:
    notice = await planned(rig, 1500)
    await send_some(rig, 1)
    update = successor(
        notice,
        "Update",
        content={"ja": {"headline": "現況届の提出期限を延長しました", "body": "9月30日まで"}},
    )
    await rig.relay(update)
    await rig.dispatcher().run_once()
    jobs = await rig.jobs()
    assert [(j.notice_id, j.state) for j in jobs] == [
        (notice["notice_id"], "cancelled"),
        (update["notice_id"], "done"),
    ]
    assert "superseded by revision 2" in (jobs[0].reason or "")
    counts = await rig.counts()
    # the first 500 got the original and the update; the other 1,000 only the update
    assert (counts["recipients"], counts["messages"], counts["requests"]) == (1500, 2000, 4)
    assert counts["max_per_recipient"] == 2
