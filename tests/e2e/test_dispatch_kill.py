"""`kill -9` of the node in the middle of a 100,000-recipient send, then a restart: each
recipient still receives the message exactly once (the sandbox's own counters)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Federation
from tests.e2e.helpers import wait_until
from tests.municipal_node.dispatch.processes import (
    counts,
    everyone_notice,
    finished,
    job_of,
    prepare,
    publish,
)

pytestmark = pytest.mark.e2e

RECIPIENTS = 100_000


def test_a_node_killed_mid_send_and_restarted_delivers_each_exactly_once(
    federation: Federation,
) -> None:
    fed = federation
    prepare(fed, RECIPIENTS, rate=40)  # 200 requests take ~5 s: time to kill it midway
    notice = everyone_notice()
    publish(fed, notice)

    def midway() -> bool:
        return 10_000 <= counts(fed)["recipients"] <= 60_000

    wait_until("the send to be midway", midway, timeout=60, interval=0.05)
    assert fed.node is not None
    fed.node.stop(kill=True)  # SIGKILL: no shutdown, claims and in-flight requests abandoned
    fed.services.remove(fed.node)
    fed.node = None
    at_kill = counts(fed)["recipients"]
    assert at_kill < RECIPIENTS

    fed.start("node")
    wait_until("the send to finish after the restart", finished(fed, notice["notice_id"]), 120)
    result = counts(fed)
    assert (result["recipients"], result["duplicates"], result["max_per_recipient"]) == (
        RECIPIENTS,
        0,
        1,
    )
    job = job_of(fed, notice["notice_id"])
    assert job is not None
    assert (job["state"], job["counts"]["sent"], job["counts"]["recipients_sent"]) == (
        "done",
        200,
        RECIPIENTS,
    )
