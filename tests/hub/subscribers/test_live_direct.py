"""Hints streamed by the transport handler itself (``hint_plan``) look exactly like the ones
strawberry streams; documents it does not recognise still work through strawberry."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from graphql import GraphQLSchema

from hub.graphql.schema import build_schema
from hub.settings import HubSettings
from hub.state import HubState
from hub.subscribers.live import hint_plan
from tests.hub.conftest import LiveServer, subscribe_with_own_engine
from tests.hub.helpers import FixedClock
from tests.hub.subscribers.live_client import init, open_socket, receive
from tests.hub.subscribers.test_live import publish, setup, wait_connected

SCHEMA: GraphQLSchema = build_schema()._schema

DIRECT = {
    "plain": "subscription { noticePublished { seq } }",
    "aliased": "subscription { hint: noticePublished { __typename n: seq } }",
}
VIA_STRAWBERRY = {
    "named": ("subscription Named { noticePublished { seq } }", "Named"),
    "fragment": (
        "subscription { noticePublished { ...F } } fragment F on NoticeHint { seq }",
        None,
    ),
}


def test_hint_plans() -> None:
    assert hint_plan(DIRECT["plain"], SCHEMA) == ("noticePublished", (("seq", "seq"),))
    assert hint_plan(DIRECT["aliased"], SCHEMA) == (
        "hint",
        (("__typename", "__typename"), ("n", "seq")),
    )
    assert hint_plan(VIA_STRAWBERRY["fragment"][0], SCHEMA) is None
    for query in (
        "subscription { noticePublished { seq seq } }",  # merged by GraphQL: left to strawberry
        "subscription { noticePublished { seq nope } }",  # invalid
        "subscription { noticePublished { seq @skip(if: true) } }",
        "{ keySet { protected } }",
        "subscription {",
    ):
        assert hint_plan(query, SCHEMA) is None, query


async def test_direct_and_strawberry_hints_on_one_socket(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, state = live_hub
    await setup(settings, clock)
    credential = await subscribe_with_own_engine(settings)
    ws = await open_socket(server.url)
    try:
        await init(ws, {"authorization": f"Bearer {credential}"})
        assert (await receive(ws))["type"] == "connection_ack"
        for op_id, query in DIRECT.items():
            await ws.send(
                json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}})
            )
        for op_id, (query, name) in VIA_STRAWBERRY.items():
            payload: dict[str, Any] = {"query": query}
            if name is not None:
                payload["operationName"] = name
            await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        await wait_connected(state, 4)
        seq = await publish(server.url)
        messages = {}
        for _ in range(4):
            message = await receive(ws)
            assert message["type"] == "next", message
            messages[message["id"]] = message["payload"]
        assert messages == {
            "plain": {"data": {"noticePublished": {"seq": seq}}},
            "aliased": {"data": {"hint": {"__typename": "NoticeHint", "n": seq}}},
            "named": {"data": {"noticePublished": {"seq": seq}}},
            "fragment": {"data": {"noticePublished": {"seq": seq}}},
        }
        await ws.send(json.dumps({"id": "plain", "type": "complete"}))
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws))["type"] == "pong"
        deadline = asyncio.get_running_loop().time() + 5
        while state.fanout.broadcaster.connected != 3:  # the completed one left the broadcaster
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
    finally:
        await ws.close()
