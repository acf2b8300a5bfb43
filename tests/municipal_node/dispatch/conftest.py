"""A dispatch rig: the REAL hub and LINE sandbox on loopback, the node's database and its
webhook served on loopback (friendship arrives as LINE sends it), and the dispatcher driven
round by round (``run_once``) with the test's clock."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from line_sandbox.residents import simulated_user_id
from municipal_node.dispatch.models import OutboxBatch, SendJob
from municipal_node.dispatch.pool import DrainReport
from municipal_node.dispatch.worker import Dispatcher, LineOptions
from municipal_node.line.inbox_worker import InboxWorker
from municipal_node.linking.digest import node_lookup
from municipal_node.relay.follower import FeedFollower
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import ADMIN_TOKEN, CHANNEL, TENANT, LiveServer, publish


def user(index: int) -> str:
    return simulated_user_id(CHANNEL, index)


def line_options(**changes: Any) -> LineOptions:
    values: dict[str, Any] = {
        "timeout_seconds": 5,
        "attempts": 3,
        "backoff_base_seconds": 0.01,
        "concurrency": 4,
        "multicast_rate": 1000,
        "multicast_burst": 50,
    }
    values.update(changes)
    return LineOptions(**values)


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
        await self.settle_webhooks()

    async def unfollow(self, indexes: list[int]) -> None:
        body = {"user_ids": [user(i) for i in indexes]}
        result = await self.sandbox_post(f"/sandbox/channels/{CHANNEL}/unfollow", body)
        assert result["webhook_status"] == 200, result
        await self.settle_webhooks()

    async def settle_webhooks(self) -> None:
        """Apply stored webhook events now, when the node queues them (an inbox worker)."""
        worker = InboxWorker(
            tenant_code=TENANT,
            sessions=self.node.sessions,
            sealer=self.node.sealer,
            clock=self.node.clock,
            lookup=node_lookup(self.node.settings),
            timeout_seconds=5,
        )
        await worker.run_once()

    async def add_friends_directly(self, user_ids: list[str]) -> None:
        """Friends straight into ``line_friends`` (large populations; the webhook path has its
        own tests)."""
        async with self.node.sessions() as session:
            await session.execute(
                text(
                    "INSERT INTO line_friends (tenant_code, user_id, is_friend, last_event_ms, "
                    "updated_at) VALUES (:t, :u, TRUE, 1, :now)"
                ),
                [{"t": TENANT, "u": uid, "now": datetime.now(UTC)} for uid in user_ids],
            )
            await session.commit()

    async def inbox(self, index: int) -> list[dict[str, Any]]:
        """The multicasts the user received."""
        response = await self.http.get(
            f"{self.sandbox.url}/sandbox/channels/{CHANNEL}/inbox", params={"user_id": user(index)}
        )
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()["messages"]
        return [m for m in messages if m["endpoint"] == "multicast"]  # not the greetings

    async def counts(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.sandbox.url}/sandbox/channels/{CHANNEL}/counts")
        response.raise_for_status()
        return dict(response.json())

    async def stats(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.sandbox.url}/sandbox/channels/{CHANNEL}/stats")
        return dict(response.json())

    async def relay(self, notice: dict[str, Any]) -> None:
        await publish(self.hub.url, notice)
        await self.follow_feed()

    async def follow_feed(self) -> None:
        follower = FeedFollower(
            tenant_code=TENANT,
            sessions=self.node.sessions,
            sealer=self.node.sealer,
            clock=self.node.clock,
            http=self.http,
        )
        await follower.poll_once()

    def dispatcher(self, **changes: Any) -> Dispatcher:
        return Dispatcher(
            tenant_code=TENANT,
            sessions=self.node.sessions,
            sealer=self.node.sealer,
            clock=self.node.clock,
            line=line_options(**changes),
            poll_seconds=0.05,
            rng=random.Random(7),
        )

    async def drain(self) -> DrainReport:
        """Send what is claimable now, without a planning round."""
        senders = self.dispatcher().senders
        assert senders is not None
        return await senders.drain()

    async def batches(self) -> list[OutboxBatch]:
        async with self.node.sessions() as session:
            return list(
                await session.scalars(
                    select(OutboxBatch).order_by(OutboxBatch.job_id, OutboxBatch.batch_no)
                )
            )

    async def jobs(self) -> list[SendJob]:
        async with self.node.sessions() as session:
            return list(await session.scalars(select(SendJob).order_by(SendJob.id)))

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {kwargs.pop('token', ADMIN_TOKEN)}"}
        return await self.http.request(
            method, f"{self.node_server.url}/api/tenants/{TENANT}{path}", headers=headers, **kwargs
        )

    async def status(self) -> list[dict[str, Any]]:
        response = await self.api("GET", "/notices")
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
