"""A graphql-transport-ws client written by hand (no GraphQL client library), the way any
node implementation would speak the protocol to the hub."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

SUBSCRIBE = "subscription { noticePublished { seq } }"


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1).rstrip("/") + "/graphql"


async def open_socket(http_url: str) -> ClientConnection:
    return await connect(
        ws_url(http_url), subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10
    )


async def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def init(ws: ClientConnection, payload: dict[str, Any] | None) -> None:
    message: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        message["payload"] = payload
    await ws.send(json.dumps(message))


async def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Wait until the server closes the socket; its close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def subscribe(http_url: str, credential: str) -> ClientConnection:
    """Connect, authenticate, subscribe to ``noticePublished``; wait for the pong of a ping
    sent after the subscribe, so the server has handled the subscribe message."""
    ws = await open_socket(http_url)
    await init(ws, {"authorization": f"Bearer {credential}"})
    ack = await receive(ws)
    assert ack["type"] == "connection_ack", ack
    await ws.send(json.dumps({"id": "hints", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    await ws.send(json.dumps({"type": "ping"}))
    assert (await receive(ws))["type"] == "pong"
    return ws


async def next_hint(ws: ClientConnection, timeout: float = 5.0) -> int:
    message = await receive(ws, timeout)
    assert message["type"] == "next", message
    assert message["id"] == "hints"
    assert set(message["payload"]) == {"data"}, message
    data = message["payload"]["data"]
    assert set(data["noticePublished"]) == {"seq"}
    seq: int = data["noticePublished"]["seq"]
    return seq


async def no_hint_within(ws: ClientConnection, seconds: float) -> bool:
    try:
        message = await receive(ws, seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected message: {message}")
