"""The hint fan-out: bounded queues, area matching, and (PostgreSQL) a LISTEN connection that
survives being dropped."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from contracts.ids import area_covers
from hub.db import sync_url
from hub.settings import HubSettings
from hub.state import HubState
from hub.subscribers.areas import covering_areas
from hub.subscribers.fanout import LISTENER_APPLICATION_NAME, Broadcaster
from tests.fixtures.database import backend
from tests.hub.conftest import LiveServer, register_with_own_engine, subscribe_with_own_engine
from tests.hub.helpers import FixedClock, HubApi, cfa_key, make_notice, signed
from tests.hub.subscribers import live_client


def test_covering_areas_agree_with_the_contract() -> None:
    codes = ["00", "01", "13", "23", "47", "13101", "23235", "23100", "47999"]
    for municipality in ["13101", "23235", "23100", "47999"]:
        covering = set(covering_areas(municipality))
        assert covering == {a for a in codes if area_covers(a, municipality)}
    with pytest.raises(ValueError):
        covering_areas("23")


async def test_full_queue_drops_the_oldest_hint_without_waiting() -> None:
    broadcaster = Broadcaster(queue_size=2)
    with broadcaster.subscribe("23235") as slow, broadcaster.subscribe("13101") as other:
        for seq in range(1, 6):
            assert broadcaster.deliver(seq, ["23"]) == 1  # returns at once, never blocks
        assert slow.dropped == 3
        assert [slow.queue.get_nowait() for _ in range(2)] == [4, 5]
        assert other.queue.empty()
        broadcaster.deliver(6, ["00"])
        assert await other.next_hint() == 6
    assert broadcaster.connected == 0


async def test_deliver_matches_areas() -> None:
    broadcaster = Broadcaster()
    with broadcaster.subscribe("23235") as yatomi:
        for areas, expected in (
            (["00"], 1),
            (["23"], 1),
            (["23235"], 1),
            (["23100"], 0),
            (["13"], 0),
            (["13", "23235"], 1),
        ):
            assert broadcaster.deliver(1, areas) == expected, areas
        assert yatomi.queue.qsize() == 4


@pytest.mark.skipif(backend() != "postgresql", reason="LISTEN/NOTIFY exists on PostgreSQL only")
async def test_listener_reconnects_and_replays_hints_missed_while_down(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, state = live_hub
    listener = state.fanout.listener
    assert listener is not None
    await register_with_own_engine(settings, cfa_key(), clock)
    credential = await subscribe_with_own_engine(settings)
    ws = await live_client.subscribe(server.url, credential)
    try:
        reconnects = listener.reconnects
        engine = sa.create_engine(sync_url(settings.database_url))
        with engine.begin() as connection:
            killed = connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTENER_APPLICATION_NAME},
            ).all()
        engine.dispose()
        assert killed
        # publish while the listener is (probably) still down: the hint is replayed
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            result = await HubApi(http).publish(signed(make_notice()))
        assert await live_client.next_hint(ws, timeout=15) == result["seq"]
        assert listener.reconnects > reconnects
    finally:
        await ws.close()
