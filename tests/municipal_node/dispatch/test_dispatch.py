"""Selection and dispatch end to end: REAL hub → node follower → node dispatcher → REAL sandbox.

Friendship reaches the node the way LINE sends it: the sandbox posts signed follow/unfollow
webhooks to the node served on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from line_sandbox.residents import simulated_user_id
from municipal_node.audit.models import AuditEntry
from municipal_node.db.engine import unit_of_work
from municipal_node.dispatch.models import OutboxBatch
from municipal_node.dispatch.service import plan_notice
from municipal_node.dispatch.worker import Dispatcher, LineOptions
from municipal_node.relay.follower import FeedFollower
from municipal_node.relay.models import StoredNotice
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import (
    ADMIN_TOKEN,
    CHANNEL,
    TENANT,
    LiveServer,
    make_notice,
    publish,
    write_csv,
)


def user(index: int) -> str:
    return simulated_user_id(CHANNEL, index)


@dataclass
class Rig:
    node: Node
    hub: LiveServer
    sandbox: LiveServer
    node_server: LiveServer
    http: httpx.AsyncClient

    async def sandbox_post(self, path: str, body: dict[str, Any]) -> Any:
        response = await self.http.post(f"{self.sandbox.url}{path}", json=body)
        response.raise_for_status()
        return response.json()

    async def befriend(self, count: int, *, follow: list[int] | None = None) -> None:
        await self.sandbox_post(f"/sandbox/channels/{CHANNEL}/friends", {"count": count})
        body: dict[str, Any] = (
            {"all": True} if follow is None else {"user_ids": [user(i) for i in follow]}
        )
        result = await self.sandbox_post(f"/sandbox/channels/{CHANNEL}/follow", body)
        assert result["webhook_status"] == 200, result

    async def unfollow(self, indexes: list[int]) -> None:
        body = {"user_ids": [user(i) for i in indexes]}
        result = await self.sandbox_post(f"/sandbox/channels/{CHANNEL}/unfollow", body)
        assert result["webhook_status"] == 200, result

    async def inbox(self, index: int) -> list[dict[str, Any]]:
        response = await self.http.get(
            f"{self.sandbox.url}/sandbox/channels/{CHANNEL}/inbox", params={"user_id": user(index)}
        )
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    async def stats(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.sandbox.url}/sandbox/channels/{CHANNEL}/stats")
        return dict(response.json())

    async def relay(self, notice: dict[str, Any]) -> None:
        await publish(self.hub.url, notice)
        follower = FeedFollower(
            tenant_code=TENANT,
            sessions=self.node.sessions,
            sealer=self.node.sealer,
            clock=self.node.clock,
            http=self.http,
        )
        await follower.poll_once()

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(
            tenant_code=TENANT,
            sessions=self.node.sessions,
            sealer=self.node.sealer,
            clock=self.node.clock,
            line=LineOptions(timeout_seconds=5, attempts=3, backoff_base_seconds=0.01),
        )

    async def batches(self) -> list[OutboxBatch]:
        async with self.node.sessions() as session:
            return list(await session.scalars(select(OutboxBatch).order_by(OutboxBatch.batch_no)))

    async def status(self) -> list[dict[str, Any]]:
        response = await self.http.get(
            f"{self.node_server.url}/api/tenants/{TENANT}/notices",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result


@pytest.fixture
async def rig(
    node: Node, live_hub: LiveServer, live_sandbox: LiveServer, live_node: LiveServer
) -> AsyncIterator[Rig]:
    await node.add_tenant(hub_url=live_hub.url, line_api_base_url=live_sandbox.url)
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.patch(
            f"{live_sandbox.url}/sandbox/channels/{CHANNEL}",
            json={"webhook_url": f"{live_node.url}/line/{TENANT}/webhook"},
        )
        response.raise_for_status()
        yield Rig(node, live_hub, live_sandbox, live_node, http)


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
    messages = await rig.inbox(0)
    assert len(messages) == 1
    [text_message] = messages[0]["messages"]
    assert text_message["text"] == (
        "【弥富市】現況届の受付が始まりました\n\n8月31日までに提出してください。"
        "\n\n詳しくは: https://www.example.lg.jp/genkyo"
    )
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
    async with rig.node.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["residents.import", "notice.plan", "line.multicast"]


async def test_recipients_are_cut_into_batches_of_at_most_500(rig: Rig, tmp_path: Path) -> None:
    rows = [(f"R{i:05d}", "child_rearing", "", "", "", user(i)) for i in range(1201)]
    await rig.node.import_csv(write_csv(tmp_path / "many.csv", rows))
    await rig.befriend(1201)
    await rig.relay(make_notice(audience={"household": ["child_rearing"]}))
    await rig.dispatcher().run_once()
    batches = await rig.batches()
    assert [b.recipient_count for b in batches] == [500, 500, 201]
    assert len({b.retry_key for b in batches}) == 3
    stats = await rig.stats()
    assert (stats["accepted_requests"], stats["delivered_recipients"]) == (3, 1201)
    assert stats["per_user_counts_histogram"] == {"1": 1201}


async def test_a_409_after_an_unanswered_accept_counts_as_sent(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    # LINE accepts the first request but the answer is lost (500); the retry gets 409
    await rig.sandbox_post(
        f"/sandbox/channels/{CHANNEL}/faults",
        {"endpoint": "multicast", "status": 500, "count": 1, "process": True},
    )
    await rig.relay(make_notice())
    await rig.dispatcher().run_once()
    [batch] = await rig.batches()
    assert (batch.state, batch.attempts, batch.sent_count) == ("sent", 2, 10)
    assert [len(await rig.inbox(i)) for i in range(10)] == [1] * 10


async def test_server_errors_are_retried_then_left_pending_for_the_next_round(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.sandbox_post(
        f"/sandbox/channels/{CHANNEL}/faults", {"endpoint": "multicast", "status": 503, "count": 3}
    )
    await rig.relay(make_notice())
    first = await rig.dispatcher().run_once()
    assert (first.sent_batches, first.retry_later) == (0, 1)
    [batch] = await rig.batches()
    assert (batch.state, batch.attempts) == ("pending", 3)
    assert "503" in (batch.last_error or "")
    assert (await rig.status())[0]["state"] == "sending"
    second = await rig.dispatcher().run_once()
    assert second.sent_batches == 1
    assert [len(await rig.inbox(i)) for i in range(10)] == [1] * 10


async def test_users_who_unfollow_after_planning_are_dropped_at_send_time(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice())
    async with rig.node.sessions() as session:
        [notice_pk] = list(await session.scalars(select(StoredNotice.id)))
    async with unit_of_work(rig.node.sessions) as session:
        await plan_notice(
            session,
            sealer=rig.node.sealer,
            tenant_code=TENANT,
            notice_pk=notice_pk,
            now=rig.node.clock.now(),
        )
    await rig.unfollow([0, 1, 2])
    await rig.dispatcher().run_once()
    assert [len(await rig.inbox(i)) for i in range(10)] == [0, 0, 0] + [1] * 7
    [status] = await rig.status()
    assert (status["targeted"], status["sent"], status["state"]) == (10, 7, "done")


async def test_a_batch_whose_users_all_unfollowed_is_sent_to_nobody(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice())
    async with rig.node.sessions() as session:
        [notice_pk] = list(await session.scalars(select(StoredNotice.id)))
    async with unit_of_work(rig.node.sessions) as session:
        await plan_notice(
            session,
            sealer=rig.node.sealer,
            tenant_code=TENANT,
            notice_pk=notice_pk,
            now=rig.node.clock.now(),
        )
    await rig.unfollow(list(range(10)))
    await rig.dispatcher().run_once()
    [batch] = await rig.batches()
    assert (batch.state, batch.sent_count) == ("sent", 0)
    assert (await rig.stats())["accepted_requests"] == 0


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
    assert (status["state"], status["sent"], status["failed"]) == ("done", 0, 10)
    assert status["by_household"]["single_parent"] == {"targeted": 10, "sent": 0, "failed": 10}


async def test_test_status_and_expired_notices_reach_nobody(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice(status="Test"))
    await rig.relay(make_notice())
    rig.node.clock.set(rig.node.clock.now() + timedelta(days=61))  # past expires
    await rig.dispatcher().run_once()
    assert (await rig.stats())["accepted_requests"] == 0
    states = [(s["status"], s["state"]) for s in await rig.status()]
    assert states == [("Test", "skipped"), ("Actual", "skipped")]


async def test_no_matching_friend_means_done_with_nothing_sent(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await rig.relay(make_notice(audience={"household": ["pregnant"]}))
    await rig.dispatcher().run_once()
    [status] = await rig.status()
    assert (status["state"], status["targeted"]) == ("done", 0)
    assert await rig.batches() == []
