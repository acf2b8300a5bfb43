"""``noticePublished`` over a real WebSocket (uvicorn on loopback, graphql-transport-ws spoken
by hand): authentication in connection_init, hints per covered notice, no hint for others."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from hub.settings import HubSettings
from hub.state import HubState
from hub.subscribers.registry import set_suspended
from tests.hub.conftest import LiveServer, register_with_own_engine, subscribe_with_own_engine
from tests.hub.helpers import (
    PREF_KEY,
    PREF_KID,
    FixedClock,
    HubApi,
    bearer,
    cfa_key,
    make_notice,
    pref_key,
    signed,
)
from tests.hub.subscribers import live_client
from tests.hub.subscribers.live_client import SUBSCRIBE, close_code, init, next_hint, open_socket

TOKYO = "13101"  # 千代田区: another prefecture


async def wait_connected(state: HubState, count: int) -> None:
    deadline = time.monotonic() + 5
    while state.fanout.broadcaster.connected < count:
        assert time.monotonic() < deadline, "subscriptions never reached the broadcaster"
        await asyncio.sleep(0.01)


async def setup(settings: HubSettings, clock: FixedClock) -> None:
    await register_with_own_engine(settings, cfa_key(), clock)
    await register_with_own_engine(settings, pref_key(), clock)


async def publish(url: str, *, prefecture_only: bool = False) -> int:
    if prefecture_only:
        envelope = signed(make_notice(publisher="pref-23", area=["23"]), kid=PREF_KID, key=PREF_KEY)
    else:
        envelope = signed(make_notice())
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        result = await HubApi(http).publish(envelope)
    assert result["__typename"] == "PublishAccepted", result
    seq: int = result["seq"]
    return seq


async def test_subscriber_receives_seq_hint_after_publish(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, state = live_hub
    await setup(settings, clock)
    credential = await subscribe_with_own_engine(settings)
    ws = await live_client.subscribe(server.url, credential)
    try:
        await wait_connected(state, 1)
        first = await publish(server.url)
        assert await next_hint(ws) == first
        second = await publish(server.url, prefecture_only=True)
        assert await next_hint(ws) == second
        # the hint is a wake-up only: the feed (with the same credential) has the notices
        async with httpx.AsyncClient(
            base_url=server.url, timeout=30, headers=bearer(credential)
        ) as http:
            feed = await HubApi(http).feed()
        assert [item["seq"] for item in feed["items"]] == [first, second]
    finally:
        await ws.close()


async def test_subscriber_of_another_prefecture_gets_no_hint_for_area_limited_notice(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, state = live_hub
    await setup(settings, clock)
    aichi = await live_client.subscribe(server.url, await subscribe_with_own_engine(settings))
    tokyo = await live_client.subscribe(
        server.url, await subscribe_with_own_engine(settings, TOKYO, "千代田区")
    )
    try:
        await wait_connected(state, 2)
        limited = await publish(server.url, prefecture_only=True)
        nationwide = await publish(server.url)
        assert await next_hint(aichi) == limited
        assert await next_hint(aichi) == nationwide
        # Tokyo's first (and only) hint is the nationwide notice; the 愛知県 one never came.
        assert await next_hint(tokyo) == nationwide
        assert await live_client.no_hint_within(tokyo, 0.3)
    finally:
        await aichi.close()
        await tokyo.close()


async def test_bad_credential_is_closed_4401(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings
) -> None:
    server, state = live_hub
    await subscribe_with_own_engine(settings)
    for payload in (
        {"authorization": "Bearer not-a-credential"},
        {"authorization": "not even bearer"},
        {"authorization": 42},
        {},
        None,
    ):
        ws = await open_socket(server.url)
        await init(ws, payload)
        assert await close_code(ws) == 4401, payload
    assert state.fanout.broadcaster.connected == 0


async def test_subscribe_before_connection_init_is_refused(
    live_hub: tuple[LiveServer, HubState],
) -> None:
    server, _ = live_hub
    ws = await open_socket(server.url)
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    assert await close_code(ws) == 4401


async def test_suspended_subscriber_is_closed_4401_and_cut_off_when_suspended_live(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, state = live_hub
    await setup(settings, clock)
    credential = await subscribe_with_own_engine(settings)
    state.fanout.recheck_seconds = 0.2
    ws = await live_client.subscribe(server.url, credential)
    await wait_connected(state, 1)
    await _set_suspended(settings, suspended=True)
    # an open connection re-checks its credential while idle and is closed with 4401
    assert await close_code(ws, timeout=5) == 4401
    refused = await open_socket(server.url)
    await init(refused, {"authorization": f"Bearer {credential}"})
    assert await close_code(refused) == 4401
    await _set_suspended(settings, suspended=False)
    resumed = await live_client.subscribe(server.url, credential)
    try:
        await wait_connected(state, 1)
        seq = await publish(server.url)
        assert await next_hint(resumed) == seq
    finally:
        await resumed.close()


async def _set_suspended(settings: HubSettings, *, suspended: bool) -> None:
    from hub.clock import SystemClock
    from hub.db import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await set_suspended(
                session, municipality="23235", suspended=suspended, now=SystemClock().now()
            )
    finally:
        await engine.dispose()


async def test_a_slow_subscriber_does_not_hold_up_others(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    """A subscriber that never reads keeps a bounded queue (oldest hints dropped); the others
    keep receiving every hint in order."""
    server, state = live_hub
    await setup(settings, clock)
    credential = await subscribe_with_own_engine(settings)
    state.fanout.broadcaster.queue_size = 4
    idle = await live_client.subscribe(server.url, credential)
    reader = await live_client.subscribe(server.url, credential)
    try:
        await wait_connected(state, 2)
        seqs = [await publish(server.url) for _ in range(10)]
        assert [await next_hint(reader) for _ in seqs] == seqs
    finally:
        await idle.close()
        await reader.close()
