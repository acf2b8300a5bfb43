"""The follower against the REAL hub: the subscriber credential, and crashes at every step."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from municipal_node.db.engine import unit_of_work
from municipal_node.relay import follower as follower_module
from municipal_node.relay.backoff import Backoff
from municipal_node.relay.follower import FeedFollower
from municipal_node.relay.hub_client import HubAuthError
from municipal_node.relay.models import FeedRejection, HubKeySet, StoredNotice
from municipal_node.relay.service import keyset_view
from municipal_node.tenants.models import Tenant
from municipal_node.tenants.service import set_hub_credential
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import (
    ROOT_KEY,
    ROOT_KID,
    TENANT,
    LiveServer,
    make_notice,
    publish,
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def make_follower(node: Node, http: httpx.AsyncClient, **extra: Any) -> FeedFollower:
    return FeedFollower(
        tenant_code=TENANT,
        sessions=node.sessions,
        sealer=node.sealer,
        clock=node.clock,
        http=http,
        **extra,
    )


async def cursor(node: Node) -> int:
    async with node.sessions() as session:
        return int(await session.scalar(select(Tenant.feed_cursor)) or 0)


async def stored_seqs(node: Node) -> list[int]:
    async with node.sessions() as session:
        return list(await session.scalars(select(StoredNotice.seq).order_by(StoredNotice.seq)))


async def test_the_feed_is_read_with_the_tenants_credential(
    node: Node, live_hub: LiveServer, http: httpx.AsyncClient
) -> None:
    await node.add_tenant(hub_url=live_hub.url)
    await publish(live_hub.url, make_notice())
    assert await make_follower(node, http).poll_once() == 1


async def test_a_refused_credential_is_loud_secret_free_and_repaired_without_restart(
    node: Node,
    live_hub: LiveServer,
    http: httpx.AsyncClient,
    hub_credentials: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-credential-the-hub-issued-0123456789"
    await node.add_tenant(hub_url=live_hub.url, hub_credential=wrong)
    await publish(live_hub.url, make_notice())
    with pytest.raises(HubAuthError):
        await make_follower(node, http).poll_once()

    recovered: list[bool] = []
    running = make_follower(
        node,
        http,
        auth_backoff=Backoff(0.005, 0.05),
        on_auth_recovered=lambda: recovered.append(True),
    )
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="municipal_node")
    task = asyncio.create_task(running.run(0.01, stop))
    await wait_for(lambda: running.status.startswith("unauthenticated"))
    assert "set-hub-credential" in running.status
    assert await cursor(node) == 0
    async with unit_of_work(node.sessions) as session:  # what `todoke node set-hub-credential` does
        await set_hub_credential(
            session,
            sealer=node.sealer,
            code=TENANT,
            credential=hub_credentials[live_hub.url],
            now=node.clock.now(),
        )
    await wait_for(lambda: running.status == "running" and bool(recovered))
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert await stored_seqs(node) == [1]
    refusals = [r for r in caplog.records if "REFUSED THE SUBSCRIBER CREDENTIAL" in r.getMessage()]
    assert refusals and all(r.levelno == logging.ERROR for r in refusals)
    text = caplog.text
    assert wrong not in text and hub_credentials[live_hub.url] not in text


async def test_the_credential_is_sealed_at_rest(node: Node, live_hub: LiveServer) -> None:
    await node.add_tenant(hub_url=live_hub.url)
    async with node.sessions() as session:
        sealed = await session.scalar(select(Tenant.hub_credential_sealed))
    assert sealed is not None
    assert node.hub_credentials[live_hub.url].encode() not in sealed


async def test_the_verified_key_set_is_kept_as_the_nodes_view(
    node: Node, live_hub: LiveServer, http: httpx.AsyncClient
) -> None:
    await node.add_tenant(hub_url=live_hub.url)
    await publish(live_hub.url, make_notice())
    await make_follower(node, http).poll_once()
    async with node.sessions() as session:
        view = await keyset_view(
            session, tenant_code=TENANT, root_keys={ROOT_KID: ROOT_KEY.public_key()}
        )
        assert view is not None
        keyset, row = view
        assert row.hub == keyset.hub == "aichi"
        assert {key.kid for key in keyset.keys} == {"gov-cfa/2026a", "pref-23/2026a"}
        assert len(list(await session.scalars(select(HubKeySet)))) == 1


class Crash(Exception):
    pass


Commit = Callable[..., Awaitable[str]]


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_crash_around_any_commit_loses_and_duplicates_nothing(
    node: Node,
    live_hub: LiveServer,
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    when: str,
) -> None:
    """Pages of 2; notices for us and for Tokyo interleaved; the follower 'crashes' (raises)
    just before or just after each commit in turn, and a new follower carries on."""
    await node.add_tenant(hub_url=live_hub.url)
    ours: list[int] = []
    for index in range(9):
        area = ["13"] if index % 3 == 1 else ["23235"]
        accepted = await publish(live_hub.url, make_notice(area=area))
        if area == ["23235"]:
            ours.append(accepted["seq"])
    monkeypatch.setattr(follower_module, "PAGE_SIZE", 2)
    real_commit: Commit = follower_module.commit_outcome
    calls = 0

    async def crashing_commit(*args: Any, **kwargs: Any) -> str:
        nonlocal calls
        calls += 1
        if calls % 2 == 1:  # every other commit crashes: each item gets a crash first
            if when == "before":
                raise Crash
            await real_commit(*args, **kwargs)
            raise Crash
        return await real_commit(*args, **kwargs)

    monkeypatch.setattr(follower_module, "commit_outcome", crashing_commit)
    crashes = 0
    while True:
        try:
            await make_follower(node, http).poll_once()  # a fresh follower: a restarted node
            break
        except Crash:
            crashes += 1
            assert crashes < 50
    assert crashes >= len(ours) // 2
    assert await stored_seqs(node) == ours
    async with node.sessions() as session:
        assert list(await session.scalars(select(FeedRejection))) == []
    assert await cursor(node) == 9


async def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
