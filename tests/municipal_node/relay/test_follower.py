"""The feed follower against the REAL hub on loopback (tampering happens in transit)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from contracts.errors import ContractError
from municipal_node.relay.follower import FeedFollower, FeedIntegrityError
from municipal_node.relay.models import FeedRejection, StoredNotice
from municipal_node.tenants.models import Tenant
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import (
    PREF_KEY,
    PREF_KID,
    TENANT,
    LiveServer,
    make_notice,
    publish,
)

Tamper = Callable[[dict[str, Any]], None]


class TamperingTransport(httpx.AsyncBaseTransport):
    """Forwards to the real hub, then lets a test change the GraphQL answer in transit."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.tamper: Tamper | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        await response.aread()
        if self.tamper is None:
            return response
        body = json.loads(response.content)
        self.tamper(body["data"])
        return httpx.Response(response.status_code, json=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
async def wire() -> AsyncIterator[TamperingTransport]:
    transport = TamperingTransport()
    yield transport
    await transport.aclose()


@pytest.fixture
async def follower(
    node: Node, live_hub: LiveServer, wire: TamperingTransport
) -> AsyncIterator[Callable[[], FeedFollower]]:
    await node.add_tenant(hub_url=live_hub.url)
    clients: list[httpx.AsyncClient] = []

    def make() -> FeedFollower:
        client = httpx.AsyncClient(transport=wire, timeout=30)
        clients.append(client)
        return FeedFollower(
            tenant_code=TENANT,
            sessions=node.sessions,
            sealer=node.sealer,
            clock=node.clock,
            http=client,
        )

    yield make
    for client in clients:
        await client.aclose()


async def stored(node: Node) -> list[StoredNotice]:
    async with node.sessions() as session:
        return list(await session.scalars(select(StoredNotice).order_by(StoredNotice.seq)))


async def rejections(node: Node) -> list[FeedRejection]:
    async with node.sessions() as session:
        return list(await session.scalars(select(FeedRejection).order_by(FeedRejection.seq)))


async def cursor(node: Node) -> int:
    async with node.sessions() as session:
        return int(await session.scalar(select(Tenant.feed_cursor)) or 0)


async def test_a_notice_is_stored_with_its_cursor_exactly_once(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower]
) -> None:
    notice = make_notice()
    accepted = await publish(live_hub.url, notice)
    first = follower()
    assert await first.poll_once() == 1
    assert await first.poll_once() == 0
    assert await follower().poll_once() == 0  # a restarted follower starts from the cursor
    [row] = await stored(node)
    assert (row.publisher, row.notice_id, row.seq, row.digest) == (
        "gov-cfa",
        notice["notice_id"],
        accepted["seq"],
        accepted["digest"],
    )
    assert (row.state, row.kid, row.headline) == (
        "stored",
        "gov-cfa/2026a",
        "現況届の受付が始まりました",
    )
    assert await cursor(node) == 1


async def test_a_replayed_feed_item_is_never_stored_twice(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower]
) -> None:
    await publish(live_hub.url, make_notice())
    await follower().poll_once()
    async with node.sessions() as session, session.begin():
        await session.execute(update(Tenant).values(feed_cursor=0))  # as if the cursor were lost
    assert await follower().poll_once() == 1
    assert len(await stored(node)) == 1
    [rejection] = await rejections(node)
    assert (rejection.seq, rejection.code) == (1, "DUPLICATE")


async def test_notices_for_other_areas_are_not_fed_and_the_cursor_moves_to_scanned_to(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower]
) -> None:
    await publish(live_hub.url, make_notice(area=["13"]))  # Tokyo
    pref = make_notice(publisher="pref-23", area=["23"])
    await publish(live_hub.url, pref, kid=PREF_KID, key=PREF_KEY)
    await publish(live_hub.url, make_notice(area=["23100", "23235"]))
    await publish(live_hub.url, make_notice(area=["13101"]))  # Chiyoda, after our last one
    assert await follower().poll_once() == 2
    assert [row.seq for row in await stored(node)] == [2, 3]
    assert await rejections(node) == []
    assert await cursor(node) == 4  # the hub scanned seq 4 for us: never read again


async def test_a_page_with_nothing_for_us_still_moves_the_cursor(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower]
) -> None:
    for _ in range(3):
        await publish(live_hub.url, make_notice(area=["13"]))
    assert await follower().poll_once() == 0
    assert await cursor(node) == 3
    assert await stored(node) == []


def _corrupt(envelope: dict[str, str]) -> None:
    signature = envelope["signature"]
    envelope["signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]


async def test_a_tampered_receipt_is_rejected_recorded_and_passed(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower], wire: TamperingTransport
) -> None:
    await publish(live_hub.url, make_notice())
    good = make_notice()
    await publish(live_hub.url, good)

    def tamper(data: dict[str, Any]) -> None:
        for item in data["notices"]["items"]:
            if item["seq"] == 1:
                _corrupt(item["receipt"])

    wire.tamper = tamper
    assert await follower().poll_once() == 2
    [rejection] = await rejections(node)
    assert (rejection.seq, rejection.code, rejection.publisher) == (1, "BAD_SIGNATURE", None)
    assert [row.notice_id for row in await stored(node)] == [good["notice_id"]]
    assert await cursor(node) == 2


@pytest.mark.parametrize(
    ("what", "message"),
    [("swap_receipts", "receipt is for seq"), ("envelope", "receipt digest")],
)
async def test_a_receipt_that_does_not_cover_its_envelope_is_rejected(
    node: Node,
    live_hub: LiveServer,
    follower: Callable[[], FeedFollower],
    wire: TamperingTransport,
    what: str,
    message: str,
) -> None:
    first, second = make_notice(), make_notice()
    await publish(live_hub.url, first)
    await publish(live_hub.url, second)
    other = make_notice()

    def tamper(data: dict[str, Any]) -> None:
        items = data["notices"]["items"]
        if what == "swap_receipts":
            items[0]["receipt"], items[1]["receipt"] = items[1]["receipt"], items[0]["receipt"]
        else:  # a validly signed notice from the publisher, but not the one the hub received
            from tests.municipal_node.helpers import signed

            items[0]["envelope"] = signed(other).model_dump()

    wire.tamper = tamper
    await follower().poll_once()
    found = await rejections(node)
    assert found and all(r.code == "BAD_SIGNATURE" for r in found)
    assert message in found[0].message
    assert other["notice_id"] not in {row.notice_id for row in await stored(node)}


async def test_test_and_exercise_are_skipped_and_an_update_supersedes_its_alert(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower]
) -> None:
    await publish(live_hub.url, make_notice(status="Test"))
    await publish(live_hub.url, make_notice(status="Exercise"))
    alert = make_notice()
    accepted = await publish(live_hub.url, alert)
    update_notice = make_notice(
        msg_type="Update",
        revision=2,
        document_id=alert["document_id"],
        references=[
            {
                "publisher": "gov-cfa",
                "notice_id": alert["notice_id"],
                "revision": 1,
                "digest": accepted["digest"],
            }
        ],
    )
    await publish(live_hub.url, update_notice)
    assert await follower().poll_once() == 4
    states = [(row.status, row.msg_type, row.state) for row in await stored(node)]
    assert states == [
        ("Test", "Alert", "skipped"),
        ("Exercise", "Alert", "skipped"),
        ("Actual", "Alert", "cancelled"),  # superseded before it was sent
        ("Actual", "Update", "stored"),  # sent as its own job (dispatch.control)
    ]
    reasons = [row.state_reason or "" for row in await stored(node)]
    assert "never sent to residents" in reasons[0]
    assert "superseded by revision 2" in reasons[2]


async def test_gaps_in_seq_are_normal(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower], wire: TamperingTransport
) -> None:
    for _ in range(3):
        await publish(live_hub.url, make_notice())

    def drop_second(data: dict[str, Any]) -> None:
        data["notices"]["items"] = [i for i in data["notices"]["items"] if i["seq"] != 2]

    wire.tamper = drop_second
    assert await follower().poll_once() == 2
    assert await cursor(node) == 3
    assert [row.seq for row in await stored(node)] == [1, 3]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("repeat_consumed", "at or before our cursor"),
        ("swap_order", "out of order"),
        ("scanned_behind", "scannedTo 0 is behind our cursor 1"),
        ("beyond_scanned", "beyond the page's scannedTo"),
        ("no_progress", "made no progress"),
    ],
)
async def test_a_feed_that_breaks_its_order_halts_without_moving_the_cursor(
    node: Node,
    live_hub: LiveServer,
    follower: Callable[[], FeedFollower],
    wire: TamperingTransport,
    tamper: str,
    message: str,
) -> None:
    await publish(live_hub.url, make_notice())
    await follower().poll_once()
    assert await cursor(node) == 1
    first_item: dict[str, Any] = {}

    def remember(data: dict[str, Any]) -> None:
        first_item.update(data["notices"]["items"][0])

    async with node.sessions() as session, session.begin():
        await session.execute(update(Tenant).values(feed_cursor=0))
    wire.tamper = remember
    await follower().poll_once()  # re-read seq 1 (recorded as DUPLICATE), to copy it below
    for _ in range(2):
        await publish(live_hub.url, make_notice())

    def break_order(data: dict[str, Any]) -> None:
        feed = data["notices"]
        if tamper == "repeat_consumed":
            feed["items"].insert(0, dict(first_item))
        elif tamper == "swap_order":
            feed["items"].reverse()
        elif tamper == "scanned_behind":
            feed["items"], feed["scannedTo"] = [], 0
        elif tamper == "beyond_scanned":
            feed["scannedTo"] = 2
        else:
            feed["items"], feed["scannedTo"], feed["hasMore"] = [], 1, True

    wire.tamper = break_order
    with pytest.raises(FeedIntegrityError, match=message):
        await follower().poll_once()
    assert await cursor(node) == 1
    assert len(await stored(node)) == 1


async def test_a_hub_that_went_backwards_halts(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower], wire: TamperingTransport
) -> None:
    await publish(live_hub.url, make_notice())
    await follower().poll_once()

    def rewind(data: dict[str, Any]) -> None:
        data["notices"]["lastSeq"] = 0

    wire.tamper = rewind
    with pytest.raises(FeedIntegrityError, match="behind our cursor"):
        await follower().poll_once()


async def test_an_expired_key_set_stops_the_round_without_moving_the_cursor(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower]
) -> None:
    await publish(live_hub.url, make_notice())
    node.clock.set(node.clock.now() + timedelta(days=8))  # the hub still signs with its own clock
    with pytest.raises(ContractError) as caught:
        await follower().poll_once()
    assert caught.value.code == "KEY_NOT_VALID"
    assert await cursor(node) == 0


async def test_a_key_set_not_signed_by_a_pinned_root_key_is_refused(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower], wire: TamperingTransport
) -> None:
    await publish(live_hub.url, make_notice())

    def forge(data: dict[str, Any]) -> None:
        _corrupt(data["keySet"])

    wire.tamper = forge
    with pytest.raises(ContractError):
        await follower().poll_once()
    assert await cursor(node) == 0


async def test_the_running_follower_halts_on_a_backwards_seq_and_says_so(
    node: Node, live_hub: LiveServer, follower: Callable[[], FeedFollower], wire: TamperingTransport
) -> None:
    for _ in range(2):
        await publish(live_hub.url, make_notice())

    def swap(data: dict[str, Any]) -> None:
        data["notices"]["items"].reverse()

    wire.tamper = swap
    running = follower()
    await asyncio.wait_for(running.run(0.01, asyncio.Event()), timeout=30)  # returns: halted
    assert running.status.startswith("halted: seq went backwards")
    assert await cursor(node) == 0
