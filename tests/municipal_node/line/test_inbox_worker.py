"""The inbox worker: exactly once across restarts and crashes, in order, and its wiring."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text, update

from line_sandbox.residents import simulated_user_id
from municipal_node.app import create_app
from municipal_node.clock import FixedClock
from municipal_node.db.engine import unit_of_work
from municipal_node.line import repository
from municipal_node.line.inbox_worker import InboxWorker
from municipal_node.line.models import LineInboxEvent
from municipal_node.line.postback import Action, Postback
from municipal_node.linking.digest import CodeLookup
from municipal_node.settings import NodeSettings
from tests.fixtures.database import backend
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import CHANNEL, TENANT, LiveServer
from tests.municipal_node.line.rig import Chat
from tests.municipal_node.line.test_webhook import signature

SCHOOL = Postback(Action.TOPIC, "school").data()


def fresh_worker(chat: Chat) -> InboxWorker:
    """What a restarted node builds: a new worker on the same database."""
    return InboxWorker(
        tenant_code=TENANT,
        sessions=chat.node.sessions,
        sealer=chat.node.sealer,
        clock=chat.node.clock,
        lookup=CodeLookup([chat.node.settings.key_bytes()]),
        timeout_seconds=5,
    )


async def test_a_row_left_pending_is_acted_on_exactly_once_after_a_restart(chat: Chat) -> None:
    user = chat.user(0)
    chat.tap(user, SCHOOL)  # stored; the node "died" before its worker ran
    restarted = fresh_worker(chat)
    first = await restarted.run_once()
    again = await restarted.run_once()
    assert (first.acted, first.replied, again.acted, again.replied) == (1, 1, 0, 0)
    assert len(chat.inbox(user)) == 1
    assert (await chat.prefs(user)).topics == ("school",)


async def test_a_crash_between_the_reply_and_its_commit_does_not_act_or_reply_twice(
    chat: Chat,
) -> None:
    user = chat.user(0)
    chat.tap(user, SCHOOL)
    await chat.process()
    # the state the database is left in when the process dies after LINE took the reply
    # but before the row was marked done
    async with unit_of_work(chat.node.sessions) as session:
        await session.execute(update(LineInboxEvent).values(state="replying", processed_at=None))
    result = await fresh_worker(chat).run_once()
    assert (result.acted, result.replied, result.closed) == (0, 0, 1)
    assert len(chat.inbox(user)) == 1  # LINE refused the used reply token: one reply only
    assert (await chat.prefs(user)).topics == ("school",)  # not toggled back off
    (row,) = await chat.inbox_rows()
    assert row.state == "done"
    assert row.last_error is not None and row.last_error.startswith("reply refused: HTTP 400")


async def test_while_line_fails_the_effects_stay_applied_once_and_the_reply_goes_out_later(
    chat: Chat,
) -> None:
    user = chat.user(0)
    chat.http.post(
        f"{chat.sandbox.url}/sandbox/channels/{CHANNEL}/faults",
        json={"endpoint": "reply", "status": 500, "count": 2},
    ).raise_for_status()
    chat.tap(user, SCHOOL)
    chat.tap(user, Postback(Action.TOPIC, "benefits").data())
    blocked = await chat.process()
    assert blocked.blocked and blocked.acted == 1
    assert chat.inbox(user) == []
    second = await chat.process()
    assert second.blocked and second.acted == 0  # the second event waits behind the first
    done = await chat.process()
    assert (done.blocked, done.acted, done.replied) == (False, 1, 2)
    assert (await chat.prefs(user)).topics == ("school", "benefits")
    assert [r.state for r in await chat.inbox_rows()] == ["done", "done"]
    assert "受け取る分野: 就学・教育\n" in chat.inbox(user)[0]["messages"][0]["text"]


async def test_a_redelivered_event_is_acted_on_once(chat: Chat) -> None:
    """The sandbox redelivers (same webhookEventId) when the node does not answer 2xx."""
    user = chat.user(0)
    chat.tap(user, SCHOOL)
    (row,) = await chat.inbox_rows()
    redelivered = {**row.payload, "deliveryContext": {"isRedelivery": True}}
    raw = json.dumps({"destination": "U" + "0" * 32, "events": [redelivered]}).encode()
    response = chat.http.post(
        f"{chat.node_server.url}/line/{TENANT}/webhook",
        content=raw,
        headers={"content-type": "application/json", "x-line-signature": signature(raw)},
    )
    assert response.json() == {"received": 1, "new": 0}
    await chat.process()
    assert len(chat.inbox(user)) == 1
    assert (await chat.prefs(user)).topics == ("school",)


async def test_a_running_node_wakes_its_inbox_worker_and_reports_it_in_health(
    node_settings: NodeSettings, clock: FixedClock, live_sandbox: LiveServer, node: Node
) -> None:
    await node.add_tenant(line_api_base_url=live_sandbox.url)
    settings = node_settings.model_copy(update={"subscribe": False, "poll_interval_seconds": 30})
    server = LiveServer(create_app(settings, clock=clock)).start()
    try:
        with httpx.Client(timeout=30) as http:
            http.patch(
                f"{live_sandbox.url}/sandbox/channels/{CHANNEL}",
                json={"webhook_url": f"{server.url}/line/{TENANT}/webhook"},
            ).raise_for_status()
            http.post(
                f"{live_sandbox.url}/sandbox/channels/{CHANNEL}/friends", json={"count": 1}
            ).raise_for_status()
            user_id = simulated_user_id(CHANNEL, 0)
            http.post(
                f"{live_sandbox.url}/sandbox/channels/{CHANNEL}/follow",
                json={"user_ids": [user_id]},
            ).raise_for_status()
            deadline = time.monotonic() + 10  # far below the 30 s poll: only a wake-up explains it
            received: list[object] = []
            while time.monotonic() < deadline and not received:
                received = http.get(
                    f"{live_sandbox.url}/sandbox/channels/{CHANNEL}/inbox",
                    params={"user_id": user_id},
                ).json()["messages"]
                await asyncio.sleep(0.05)
            assert received
            health = http.get(f"{server.url}/healthz").json()
            assert health["tenants"][TENANT]["inbox"] == "running"
    finally:
        server.stop()


async def test_retention_deletes_only_events_already_acted_on(chat: Chat) -> None:
    user = chat.user(0)
    chat.tap(user, SCHOOL)
    await chat.process()
    chat.tap(user, SCHOOL)  # not acted on yet
    later = chat.node.clock.now() + timedelta(seconds=1)
    async with unit_of_work(chat.node.sessions) as session:
        assert await repository.delete_closed_before(session, TENANT, later) == 1
    assert [r.state for r in await chat.inbox_rows()] == ["pending"]


@pytest.mark.skipif(
    backend() != "postgresql", reason="several node processes share PostgreSQL; SQLite runs one"
)
async def test_while_another_process_works_a_tenants_inbox_this_one_leaves_it_alone(
    chat: Chat,
) -> None:
    """Two node processes never work one tenant's inbox at once (events of one resident stay
    in order): the round of the one without the tenant's advisory lock does nothing."""
    user = chat.user(0)
    chat.tap(user, SCHOOL)
    async with chat.node.sessions() as other_process:  # its own connection and transaction
        held = await other_process.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": f"todoke.inbox:{TENANT}"}
        )
        assert held
        skipped = await fresh_worker(chat).run_once()
        assert (skipped.acted, skipped.replied) == (0, 0)
        assert [row.state for row in await chat.inbox_rows()] == ["pending"]
    # the other process's transaction ended: this one works the inbox now
    worked = await fresh_worker(chat).run_once()
    assert (worked.acted, worked.replied) == (1, 1)
    assert (await chat.prefs(user)).topics == ("school",)


async def test_residents_are_answered_side_by_side_and_each_ones_events_stay_in_order(
    chat: Chat,
) -> None:
    """A follow burst must be greeted within the reply tokens' minute: different residents'
    rows run side by side while each resident's own rows keep their order. With every reply
    taking 1 s at LINE, all four residents' first replies are accepted before any second one
    (one at a time, resident 0's would all come first), and the last tap decides."""
    stop, resume = Postback(Action.STOP).data(), Postback(Action.RESUME).data()
    taps = {chat.user(n): [stop, resume] if n % 2 else [resume, stop] for n in range(4)}
    for user, sequence in taps.items():
        for data in sequence:
            chat.tap(user, data)
    chat.http.post(
        f"{chat.sandbox.url}/sandbox/channels/{CHANNEL}/faults",
        json={"latency_seconds": 1.0, "endpoints": ["reply"], "seed": 1},
    ).raise_for_status()
    result = await chat.process()
    assert (result.acted, result.replied, result.blocked) == (8, 8, False)
    replies = {user: chat.inbox(user) for user in taps}
    for n, (user, items) in enumerate(replies.items()):
        assert [item["endpoint"] for item in items] == ["reply", "reply"]
        assert (await chat.prefs(user)).stopped is (n % 2 == 0), user
    first = [int(items[0]["message_ids"][0]) for items in replies.values()]
    second = [int(items[1]["message_ids"][0]) for items in replies.values()]
    assert max(first) < min(second), (first, second)
