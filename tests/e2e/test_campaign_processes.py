"""Campaign phases with real processes (sandbox, hub, node — on PostgreSQL also a dispatch
worker): the node is stopped, staff make a campaign with the CLI, and the times of two phases
pass while the node is down (set in its database, as a long outage leaves it: one phase due 2
hours ago, one 30 hours ago). When the node starts again its scheduler sends the first (inside
the 24-hour catch-up window) to every friend, once, and reports the second missed with the
reason, not sent. A second outage across the reminder: after the restart the reminder is
sent and nothing done or missed before runs again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from municipal_node.campaigns.models import CampaignPhase
from municipal_node.campaigns.service import TASK_KIND, task_key
from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.scheduler.models import ScheduledTask
from tests.e2e.conftest import TENANT, Federation
from tests.e2e.helpers import wait_until
from tests.municipal_node.dispatch.processes import (
    counts,
    everyone_notice,
    finished,
    prepare,
    publish,
    sends,
)
from todoke.demo.processes import run_cli

pytestmark = pytest.mark.e2e

FRIENDS = 40


async def _outage(database_url: str, campaign_id: int, due: dict[str, datetime]) -> None:
    engine = create_engine(database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            for phase, at in due.items():
                await session.execute(
                    update(ScheduledTask)
                    .where(ScheduledTask.kind == TASK_KIND,
                           ScheduledTask.key == task_key(campaign_id, phase))
                    .values(due_at=at)
                )  # fmt: skip
                await session.execute(
                    update(CampaignPhase)
                    .where(CampaignPhase.campaign_id == campaign_id, CampaignPhase.phase == phase)
                    .values(send_at=at)
                )  # fmt: skip
    finally:
        await engine.dispose()


def _campaign(fed: Federation, campaign_id: int) -> dict[str, Any]:
    assert fed.node is not None
    response = httpx.get(
        f"{fed.node.url}/api/tenants/{TENANT}/campaigns/{campaign_id}",
        headers={"Authorization": f"Bearer {fed.admin_token}"},
        timeout=30,
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _phases(fed: Federation, campaign_id: int) -> dict[str, dict[str, Any]]:
    return {p["phase"]: p for p in _campaign(fed, campaign_id)["phases"]}


def test_a_node_down_across_phase_times_catches_up_inside_the_window_only(
    federation: Federation,
) -> None:
    fed = federation
    prepare(fed, FRIENDS)
    notice = everyone_notice()
    publish(fed, notice)
    wait_until("the notice to be sent", finished(fed, notice["notice_id"]), timeout=120)
    assert fed.node is not None
    fed.node.stop()  # the node is down from here

    out = run_cli(
        ["node", "campaign-add", "--tenant", TENANT, "--publisher", "gov-cfa",
         "--notice-id", notice["notice_id"], "--json",
         # no quiet hours: the catch-up must not wait for the morning in JST
         "--quiet-start", "00:00", "--quiet-end", "00:00"],
        env=fed.node_env,
    ).stdout  # fmt: skip
    campaign = json.loads(out)
    campaign_id = int(campaign["id"])
    assert [p["state"] for p in campaign["phases"]] == ["scheduled"] * 3
    now = datetime.now(UTC)
    asyncio.run(
        _outage(
            fed.node_env["TODOKE_NODE_DATABASE_URL"],
            campaign_id,
            {"preview": now - timedelta(hours=2), "open": now - timedelta(hours=30)},
        )
    )

    fed.start("node")  # back
    wait_until(
        "the scheduler to catch up",
        lambda: (
            {k: p["state"] for k, p in _phases(fed, campaign_id).items()}
            == {"preview": "sent", "open": "missed", "reminder": "scheduled"}
        ),
        timeout=120,
    )
    phases = _phases(fed, campaign_id)
    assert "ノードが停止していた" in phases["open"]["reason"]
    assert phases["open"]["job_id"] is None

    def preview_done() -> bool:
        job = next((j for j in sends(fed) if j.get("phase") == "preview"), None)
        return job is not None and job["state"] == "done"

    wait_until("the preview to be sent", preview_done, timeout=120)
    jobs = sends(fed)
    assert sorted(j["phase"] for j in jobs) == ["notice", "preview"]
    preview = next(j for j in jobs if j["phase"] == "preview")
    assert preview["id"] == phases["preview"]["job_id"]
    assert preview["targeted"] == FRIENDS
    delivered = counts(fed)  # every friend: the notice and the preview, each once
    assert (delivered["recipients"], delivered["max_per_recipient"]) == (FRIENDS, 2)

    # down once more, across the reminder's time: after the restart the reminder goes out
    # (proof that the restarted scheduler ran) and nothing done or missed runs again
    assert fed.node is not None
    fed.node.stop()
    asyncio.run(
        _outage(
            fed.node_env["TODOKE_NODE_DATABASE_URL"],
            campaign_id,
            {"reminder": datetime.now(UTC) - timedelta(hours=1)},
        )
    )
    fed.start("node")

    def reminder_done() -> bool:
        job = next((j for j in sends(fed) if j.get("phase") == "reminder"), None)
        return job is not None and job["state"] == "done"

    wait_until("the reminder to be sent", reminder_done, timeout=120)
    assert sorted(j["phase"] for j in sends(fed)) == ["notice", "preview", "reminder"]
    phases = _phases(fed, campaign_id)
    assert (phases["preview"]["state"], phases["open"]["state"]) == ("sent", "missed")
    delivered = counts(fed)  # the notice, the preview and the reminder, each once
    assert (delivered["recipients"], delivered["max_per_recipient"]) == (FRIENDS, 3)
