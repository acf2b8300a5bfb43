"""During a send, with real processes: a resident who unfollows receives nothing after it,
and a hub `Cancel` stops the rest of the send."""

from __future__ import annotations

import time

import httpx
import pytest

from contracts.canonical import canonicalize
from contracts.jws import digest
from tests.e2e.conftest import CHANNEL, Federation
from tests.e2e.helpers import wait_until
from tests.municipal_node.dispatch.processes import (
    count_of,
    counts,
    everyone_notice,
    finished,
    is_friend_at_node,
    job_of,
    prepare,
    publish,
    users_of_last_unclaimed_batch,
)
from tests.municipal_node.helpers import new_ulid

pytestmark = pytest.mark.e2e

RECIPIENTS = 20_000


def test_a_resident_who_unfollows_during_a_send_receives_nothing_after_it(
    federation: Federation,
) -> None:
    fed = federation
    # 40 requests over ~5 s; few senders, so most batches are not claimed yet when they leave
    prepare(fed, RECIPIENTS, rate=8, TODOKE_NODE_DISPATCH_CONCURRENCY="2")
    notice = everyone_notice()
    publish(fed, notice)
    wait_until("the first requests", lambda: counts(fed)["requests"] >= 3, timeout=60)

    node_db = fed.node_env["TODOKE_NODE_DATABASE_URL"]
    leaving = users_of_last_unclaimed_batch(node_db)[:50]
    assert len(leaving) == 50
    assert fed.sandbox is not None
    httpx.post(
        f"{fed.sandbox.url}/sandbox/channels/{CHANNEL}/unfollow",
        json={"user_ids": leaving},
        timeout=60,
    ).raise_for_status()
    wait_until(
        "the node to apply the unfollows",
        lambda: not any(is_friend_at_node(node_db, user) for user in leaving),
        timeout=30,
    )
    wait_until("the send to finish", finished(fed, notice["notice_id"]), timeout=120)

    assert {count_of(fed, user) for user in leaving} == {0}
    result = counts(fed)
    assert (result["recipients"], result["duplicates"]) == (RECIPIENTS - len(leaving), 0)
    # the node never asked LINE to deliver to them: it dropped them itself, at send time
    stats = fed.sandbox_get(f"/sandbox/channels/{CHANNEL}/stats")
    assert stats["not_delivered_recipients"] == 0
    job = job_of(fed, notice["notice_id"])
    assert job is not None
    assert (job["state"], job["counts"]["dropped_at_send"]) == ("done", len(leaving))


def test_a_hub_cancel_during_a_send_stops_the_rest(federation: Federation) -> None:
    fed = federation
    prepare(fed, RECIPIENTS, rate=8)
    notice = everyone_notice()
    publish(fed, notice)
    wait_until("the first requests", lambda: counts(fed)["requests"] >= 3, timeout=60)

    cancel = dict(notice)
    cancel.update(
        notice_id=new_ulid(),
        msg_type="Cancel",
        revision=2,
        cancel_reason="制度改正により取り消します",
        references=[
            {
                "publisher": notice["publisher"],
                "notice_id": notice["notice_id"],
                "revision": 1,
                "digest": digest(canonicalize(notice)),
            }
        ],
    )
    publish(fed, cancel)
    wait_until("the cancel to stop the send", finished(fed, notice["notice_id"]), timeout=60)
    cancelled_at = counts(fed)
    job = job_of(fed, notice["notice_id"])
    assert job is not None
    assert job["state"] == "cancelled"
    assert "制度改正により取り消します" in job["reason"]
    assert job["counts"]["cancelled"] > 0 and job["counts"]["pending"] == 0

    # requests in flight at the cancel are answered and recorded; then nothing more goes out
    def recorded() -> bool:
        job = job_of(fed, notice["notice_id"])
        return job is not None and job["counts"]["recipients_sent"] == counts(fed)["recipients"]

    wait_until("the requests in flight to be recorded", recorded, timeout=30)
    settled = counts(fed)
    time.sleep(3)  # longer than a request may take (2 s): a stray send would show
    after = counts(fed)
    assert after == settled
    assert after["requests"] <= cancelled_at["requests"] + 4  # at most what was on its way
    assert after["recipients"] < RECIPIENTS and after["duplicates"] == 0
