"""The live subscription (graphql-transport-ws) against the REAL hub on loopback."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from municipal_node.db.engine import unit_of_work
from municipal_node.dispatch.worker import LineOptions
from municipal_node.relay.backoff import Backoff
from municipal_node.relay.models import StoredNotice
from municipal_node.relay.subscription import SubscriptionClient, ws_url
from municipal_node.tenants.schemas import TenantConfig
from municipal_node.tenants.service import load_config, set_hub_credential
from municipal_node.workers import HubOptions, Workers
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT, LiveServer, make_notice, publish


class TopRandom(random.Random):
    """An RNG that always draws the top of the range: the backoff's ceiling."""

    def uniform(self, low: float, high: float) -> float:
        return high


def test_the_backoff_doubles_from_the_base_up_to_the_cap_with_full_jitter() -> None:
    backoff = Backoff(0.5, 60.0, rng=TopRandom())
    assert [backoff.delay(n) for n in range(10)] == [0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff.delay(10_000) == 60.0
    assert backoff.long_delay(0) == 8.0  # a refused credential waits longer
    jittered = Backoff(0.5, 60.0)
    draws = [jittered.delay(3) for _ in range(200)]
    assert all(0 <= d <= 4 for d in draws) and len(set(draws)) > 100
    assert all(30 <= jittered.long_delay(10) <= 60 for _ in range(50))
    with pytest.raises(ValueError, match="base"):
        Backoff(1.0, 0.5)


def test_the_websocket_url_follows_the_hub_url() -> None:
    assert ws_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/graphql"
    assert ws_url("https://hub.example.lg.jp/aichi/") == "wss://hub.example.lg.jp/aichi/graphql"


async def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def loader(node: Node) -> Callable[[], Any]:
    async def load() -> TenantConfig | None:
        async with node.sessions() as session:
            return await load_config(session, TENANT, sealer=node.sealer)

    return load


@pytest.fixture
async def running() -> AsyncIterator[Callable[[SubscriptionClient], None]]:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    def start(client: SubscriptionClient) -> None:
        tasks.append(asyncio.create_task(client.run(stop)))

    yield start
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)  # stops cleanly, never hangs


async def test_hints_arrive_for_notices_that_cover_us_only(
    node: Node, live_hub: LiveServer, running: Callable[[SubscriptionClient], None]
) -> None:
    await node.add_tenant(hub_url=live_hub.url)
    wakes: list[float] = []
    client = SubscriptionClient(
        tenant_code=TENANT,
        load_config=loader(node),
        on_wake=lambda: wakes.append(time.monotonic()),
        backoff=Backoff(0.05, 0.5),
        poll_interval=60,
    )
    running(client)
    await wait_for("the subscription", lambda: client.live)
    assert client.state == "live" and len(wakes) == 1  # connecting wakes the follower
    await publish(live_hub.url, make_notice(area=["13"]))  # Tokyo: no hint for 弥富市
    await publish(live_hub.url, make_notice())
    await wait_for("a hint", lambda: client.hints >= 1)
    await asyncio.sleep(0.3)
    assert client.hints == 1


async def test_a_refused_credential_closes_4401_and_a_fixed_one_connects(
    node: Node,
    live_hub: LiveServer,
    hub_credentials: dict[str, str],
    running: Callable[[SubscriptionClient], None],
) -> None:
    await node.add_tenant(hub_url=live_hub.url, hub_credential="wrong-credential-0123456789abcdef")
    client = SubscriptionClient(
        tenant_code=TENANT,
        load_config=loader(node),
        on_wake=lambda: None,
        backoff=Backoff(10.0, 60.0),  # long: only retry_now can make this test pass in time
        poll_interval=60,
    )
    running(client)
    await wait_for("the refusal", lambda: client.state.startswith("unauthenticated"))
    assert "4401" in client.state and client.delays[0] >= 30  # long_delay(0): [30, 60]
    async with unit_of_work(node.sessions) as session:
        await set_hub_credential(
            session,
            sealer=node.sealer,
            code=TENANT,
            credential=hub_credentials[live_hub.url],
            now=node.clock.now(),
        )
    client.retry_now.set()  # what the follower does once the feed accepts the credential
    await wait_for("the subscription", lambda: client.live)


async def stored_count(node: Node) -> int:
    async with node.sessions() as session:
        return len(list(await session.scalars(select(StoredNotice.id))))


@pytest.fixture
async def workers(node: Node) -> AsyncIterator[Callable[..., Any]]:
    started: list[Workers] = []

    async def start(*, interval: float, subscribe: bool = True) -> Workers:
        w = Workers(
            sessions=node.sessions,
            sealer=node.sealer,
            clock=node.clock,
            interval=interval,
            line=LineOptions(timeout_seconds=1, attempts=1, backoff_base_seconds=0.01),
            hub=HubOptions(
                timeout_seconds=5,
                subscribe=subscribe,
                idle_poll_seconds=600,
                backoff_base_seconds=0.05,
                backoff_cap_seconds=0.5,
            ),
        )
        await w.start()
        started.append(w)
        return w

    yield start
    for w in started:
        await w.stop(timeout=15)


async def test_a_hint_wakes_the_follower_long_before_the_next_poll(
    node: Node, live_hub: LiveServer, workers: Callable[..., Any]
) -> None:
    await node.add_tenant(hub_url=live_hub.url)
    running: Workers = await workers(interval=60)  # polling alone would take a minute
    subscription = running.tenants[TENANT].subscription
    assert subscription is not None
    await wait_for("the subscription", lambda: subscription.live)
    await asyncio.sleep(0.2)  # the first round (on connect) is over
    for expected in (1, 2):
        started = time.monotonic()
        await publish(live_hub.url, make_notice())
        await wait_for("the notice", lambda e=expected: _has(node, e), timeout=10)
        assert time.monotonic() - started < 2.0
    assert running.health()[TENANT]["subscription"] == "live"


async def _has(node: Node, count: int) -> bool:
    return await stored_count(node) >= count


def no_websocket_proxy(hub_url: str) -> FastAPI:
    """A hub front that forwards POST /graphql but has no WebSocket route (upgrade refused)."""
    app = FastAPI()

    @app.post("/graphql")
    async def forward(request: Request) -> Response:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(
                f"{hub_url}/graphql",
                content=await request.body(),
                headers={
                    "content-type": "application/json",
                    "authorization": request.headers.get("authorization", ""),
                },
            )
        return Response(answer.content, answer.status_code, media_type="application/json")

    return app


async def test_without_websockets_the_follower_polls(
    node: Node,
    live_hub: LiveServer,
    hub_credentials: dict[str, str],
    workers: Callable[..., Any],
) -> None:
    front = LiveServer(no_websocket_proxy(live_hub.url)).start()
    try:
        await node.add_tenant(hub_url=front.url, hub_credential=hub_credentials[live_hub.url])
        running: Workers = await workers(interval=0.1)
        subscription = running.tenants[TENANT].subscription
        assert subscription is not None
        await publish(live_hub.url, make_notice())
        await wait_for("the notice, by polling", lambda: _has(node, 1))
        await wait_for("a failed connect", lambda: subscription.state.startswith("down"))
        assert not subscription.live and subscription.connections == 0
        assert "HTTP 403" in subscription.state or "HTTP 404" in subscription.state
    finally:
        front.stop()


async def test_the_subscription_comes_back_after_a_hub_restart(
    node: Node, live_hub: LiveServer, workers: Callable[..., Any]
) -> None:
    await node.add_tenant(hub_url=live_hub.url)
    running: Workers = await workers(interval=60)
    subscription = running.tenants[TENANT].subscription
    assert subscription is not None
    await wait_for("the subscription", lambda: subscription.live)
    await asyncio.to_thread(live_hub.restart)
    await wait_for("the reconnect", lambda: subscription.connections >= 2 and subscription.live)
    assert subscription.delays  # it backed off before reconnecting
    started = time.monotonic()
    await publish(live_hub.url, make_notice())
    await wait_for("the notice after the restart", lambda: _has(node, 1), timeout=10)
    assert time.monotonic() - started < 2.0
