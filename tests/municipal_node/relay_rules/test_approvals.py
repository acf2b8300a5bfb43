"""Approval of held sends, end to end: a notice from the REAL hub meets an ``approval`` rule,
the dispatcher plans and holds it, approvers release it over the HTTP API, and the REAL LINE
sandbox receives it — or nothing, while it waits."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from line_sandbox.residents import simulated_user_id
from municipal_node.audit.models import AuditEntry
from municipal_node.dispatch.models import SendJob
from municipal_node.dispatch.worker import Dispatcher, LineOptions
from municipal_node.relay.follower import FeedFollower
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import CHANNEL, TENANT, LiveServer, make_notice, publish
from tests.municipal_node.segments.population import befriend
from tests.municipal_node.staff.client import OPERATOR, staff_headers

BASE = f"/api/tenants/{TENANT}"
FRIENDS = 5


@dataclass
class Rig:
    node: Node
    hub: LiveServer
    sandbox: LiveServer
    api: httpx.AsyncClient
    http: httpx.AsyncClient

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(
            tenant_code=TENANT,
            sessions=self.node.sessions,
            sealer=self.node.sealer,
            clock=self.node.clock,
            line=LineOptions(
                timeout_seconds=5,
                attempts=3,
                backoff_base_seconds=0.01,
                concurrency=0,
                multicast_rate=1000,
                multicast_burst=50,
            ),
            poll_seconds=0.05,
            rng=random.Random(7),
        )

    async def relay_and_plan(self, notice: dict[str, Any]) -> SendJob:
        await publish(self.hub.url, notice)
        await FeedFollower(
            tenant_code=TENANT,
            sessions=self.node.sessions,
            sealer=self.node.sealer,
            clock=self.node.clock,
            http=self.http,
        ).poll_once()
        await self.dispatcher().run_once()
        async with self.node.sessions() as session:
            job = await session.scalar(
                select(SendJob).where(SendJob.notice_id == notice["notice_id"])
            )
        assert job is not None
        return job

    async def inbox(self, index: int) -> list[dict[str, Any]]:
        """The LINE message objects the friend received, in order."""
        response = await self.http.get(
            f"{self.sandbox.url}/sandbox/channels/{CHANNEL}/inbox",
            params={"user_id": simulated_user_id(CHANNEL, index)},
        )
        response.raise_for_status()
        requests = response.json()["messages"]
        return [message for request in requests for message in request["messages"]]

    async def rule(self, **body: Any) -> int:
        response = await self.api.post(
            f"{BASE}/relay-rules", json={"name": "承認して送る", **body}, headers=OPERATOR
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def approve(self, job_id: int, headers: dict[str, str]) -> httpx.Response:
        return await self.api.post(f"{BASE}/sends/{job_id}/approve", headers=headers)


@pytest.fixture
async def rig(
    node: Node,
    live_hub: LiveServer,
    live_sandbox: LiveServer,
    node_http: httpx.AsyncClient,
) -> AsyncIterator[Rig]:
    await node.add_tenant(hub_url=live_hub.url, line_api_base_url=live_sandbox.url)
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{live_sandbox.url}/sandbox/channels/{CHANNEL}/friends", json={"count": FRIENDS}
        )
        response.raise_for_status()
        await befriend(node, [simulated_user_id(CHANNEL, i) for i in range(FRIENDS)])
        yield Rig(node, live_hub, live_sandbox, node_http, http)


async def test_above_the_threshold_two_different_approvers_release_the_send(rig: Rig) -> None:
    await rig.rule(mode="approval", two_person_threshold=FRIENDS - 1)
    job = await rig.relay_and_plan(make_notice(audience={}))
    assert (job.state, job.targeted) == ("held", FRIENDS)
    first = await staff_headers(rig.api, tenant=TENANT, username="shonin-a", role="approver")
    second = await staff_headers(rig.api, tenant=TENANT, username="shonin-b", role="approver")

    once = await rig.approve(job.id, first)
    assert once.status_code == 200, once.text
    assert once.json() == {
        "job_id": job.id,
        "state": "held",
        "targeted": FRIENDS,
        "approvals": 1,
        "required": 2,
        "approvers": ["staff:shonin-a"],
        "released": False,
    }
    twice = await rig.approve(job.id, first)  # the same person again counts once
    assert (twice.json()["approvals"], twice.json()["released"]) == (1, False)
    await rig.dispatcher().run_once()
    assert await rig.inbox(0) == []  # still held: nothing sent

    released = await rig.approve(job.id, second)
    assert released.status_code == 200, released.text
    assert released.json()["released"] is True
    assert released.json()["approvers"] == ["staff:shonin-a", "staff:shonin-b"]
    assert released.json()["state"] == "sending"
    await rig.dispatcher().run_once()
    for index in range(FRIENDS):
        messages = await rig.inbox(index)
        assert [m["type"] for m in messages] == ["text", "flex"]
        assert messages[0]["text"].startswith("【弥富市】現況届の受付が始まりました")

    late = await rig.approve(job.id, second)
    assert late.status_code == 409
    assert late.json()["detail"]["code"] == "NOT_HELD"
    async with rig.node.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(["send.approve", "send.release"]))
                .order_by(AuditEntry.id)
            )
        )
    assert [(r.action, r.actor, r.count) for r in rows] == [
        ("send.approve", "staff:shonin-a", FRIENDS),
        ("send.approve", "staff:shonin-a", FRIENDS),
        ("send.release", "staff:shonin-b", FRIENDS),
        ("send.approve", "staff:shonin-b", FRIENDS),
    ]
    assert rows[1].detail["repeated"] is True


async def test_at_or_below_the_threshold_one_approver_releases_the_send(rig: Rig) -> None:
    await rig.rule(mode="approval", two_person_threshold=FRIENDS)
    job = await rig.relay_and_plan(make_notice(audience={}))
    approver = await staff_headers(rig.api, tenant=TENANT, username="shonin", role="approver")
    status = await rig.api.get(f"{BASE}/sends/{job.id}/approvals", headers=approver)
    assert (status.json()["required"], status.json()["approvals"]) == (1, 0)
    released = await rig.approve(job.id, approver)
    assert released.json()["released"] is True
    await rig.dispatcher().run_once()
    assert len(await rig.inbox(FRIENDS - 1)) == 2


async def test_only_approvers_may_approve_and_only_on_their_own_tenant(rig: Rig) -> None:
    await rig.rule(mode="approval")
    job = await rig.relay_and_plan(make_notice(audience={}))
    for role in ("editor", "viewer"):
        headers = await staff_headers(rig.api, tenant=TENANT, username=f"as-{role}", role=role)
        refused = await rig.approve(job.id, headers)
        assert refused.status_code == 403, role
        assert refused.json()["detail"]["code"] == "FORBIDDEN"
    await rig.node.add_tenant(code="23100")
    elsewhere = await rig.api.post(f"/api/tenants/23100/sends/{job.id}/approve", headers=OPERATOR)
    assert elsewhere.status_code == 404
    missing = await rig.approve(job.id + 1000, OPERATOR)
    assert missing.status_code == 404
    async with rig.node.sessions() as session:
        held = await session.get(SendJob, job.id)
        assert held is not None and held.state == "held"
    assert await rig.inbox(0) == []
    operator = await rig.approve(job.id, OPERATOR)  # admin implies approver
    assert operator.json()["released"] is True


async def test_an_auto_rule_sends_without_approval(rig: Rig) -> None:
    await rig.rule(mode="auto")
    job = await rig.relay_and_plan(make_notice(audience={}))
    assert job.state in ("sending", "done")
    assert len(await rig.inbox(0)) == 2
    refused = await rig.approve(job.id, OPERATOR)
    assert refused.status_code == 409
