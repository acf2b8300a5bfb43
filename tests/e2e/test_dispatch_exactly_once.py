"""100,000 recipients through a faulty LINE, with real processes: each receives exactly once.

The sandbox answers 10 % of multicasts with a 500, lets 5 % time out (half of them after
accepting the request), and answers 5 in every 50 with a 429. On PostgreSQL the node and a
`todoke node dispatch-worker` send side by side (FOR UPDATE SKIP LOCKED); on SQLite the node
alone. The sandbox's own per-recipient counters decide.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Federation
from tests.e2e.helpers import wait_until
from tests.municipal_node.dispatch.processes import (
    counts,
    everyone_notice,
    finished,
    job_of,
    multi_process,
    prepare,
    publish,
    senders_of,
    set_faults,
)

pytestmark = pytest.mark.e2e

RECIPIENTS = 100_000


def test_a_faulty_line_still_delivers_to_each_of_100000_exactly_once(
    federation: Federation,
) -> None:
    fed = federation
    prepare(fed, RECIPIENTS)
    set_faults(
        fed,
        {
            "error_share": 0.1,
            "timeout_share": 0.05,
            "timeout_seconds": 3,  # longer than the node waits (2 s)
            "burst_429": {"every": 50, "length": 5},
            "seed": 20261203,
        },
    )
    notice = everyone_notice()
    publish(fed, notice)
    wait_until("the send to finish", finished(fed, notice["notice_id"]), timeout=120)

    result = counts(fed)
    assert (result["recipients"], result["duplicates"], result["max_per_recipient"]) == (
        RECIPIENTS,
        0,
        1,
    )
    job = job_of(fed, notice["notice_id"])
    assert job is not None
    assert (job["state"], job["targeted"]) == ("done", RECIPIENTS)
    assert (job["counts"]["sent"], job["counts"]["failed"], job["counts"]["pending"]) == (
        200,
        0,
        0,
    )
    assert job["counts"]["recipients_sent"] == RECIPIENTS
    faults = fed.sandbox_get("/sandbox/channels/yatomi/faults")
    injected = faults["injected"]
    assert injected["error_500"] > 0 and injected["burst_429"] > 0
    assert injected["timeout_accepted"] > 0 and injected["timeout_failed"] > 0
    # on PostgreSQL the node and the dispatch worker both sent (SKIP LOCKED shared the work)
    workers = senders_of(fed.node_env["TODOKE_NODE_DATABASE_URL"])
    assert len(workers) == (2 if multi_process() else 1)
