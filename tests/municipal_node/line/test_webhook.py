from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
from sqlalchemy import func, select

from municipal_node.line.models import LineFriend, LineInboxEvent
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import CHANNEL_SECRET, TENANT, new_ulid

USER = "U" + "1" * 32
URL = f"/line/{TENANT}/webhook"


def event(
    kind: str, *, user: str = USER, ms: int = 1_700_000_000_000, **extra: Any
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": ms,
        "source": {"type": "user", "userId": user},
        "webhookEventId": new_ulid(),
        "deliveryContext": {"isRedelivery": False},
    }
    if kind == "follow":
        value["replyToken"] = "r" * 32
        value["follow"] = {"isUnblocked": False}
    value.update(extra)
    return value


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps({"destination": "U" + "0" * 32, "events": list(events)}).encode()


def signature(body: bytes, secret: str = CHANNEL_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def post(client: httpx.AsyncClient, body: bytes, sig: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if sig is not None:
        headers["X-Line-Signature"] = sig
    return await client.post(URL, content=body, headers=headers)


async def friendship(node: Node) -> dict[str, bool]:
    async with node.sessions() as session:
        rows = await session.execute(select(LineFriend.user_id, LineFriend.is_friend))
        return dict(rows.all())


async def stored_events(node: Node) -> int:
    async with node.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(LineInboxEvent)) or 0)


async def test_follow_then_unfollow_updates_friendship(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    body = body_of(event("follow"))
    assert (await post(node_http, body, signature(body))).status_code == 200
    assert await friendship(node) == {USER: True}
    body = body_of(event("unfollow", ms=1_700_000_000_500))
    assert (await post(node_http, body, signature(body))).status_code == 200
    assert await friendship(node) == {USER: False}


async def test_a_bad_or_missing_signature_is_400_and_stores_nothing(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    body = body_of(event("follow"))
    assert (await post(node_http, body, signature(body, "wrong-secret"))).status_code == 400
    assert (await post(node_http, body)).status_code == 400
    tampered = body.replace(USER.encode(), ("U" + "2" * 32).encode())
    assert (await post(node_http, tampered, signature(body))).status_code == 400
    assert await friendship(node) == {}
    assert await stored_events(node) == 0


async def test_a_redelivered_event_is_applied_once(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    follow = event("follow")
    body = body_of(follow)
    await post(node_http, body, signature(body))
    unfollow = body_of(event("unfollow", ms=1_700_000_000_500))
    await post(node_http, unfollow, signature(unfollow))
    redelivered = body_of({**follow, "deliveryContext": {"isRedelivery": True}})
    response = await post(node_http, redelivered, signature(redelivered))
    assert response.status_code == 200
    assert response.json() == {"received": 1, "new": 0}
    assert await friendship(node) == {USER: False}
    assert await stored_events(node) == 2


async def test_an_older_event_does_not_overwrite_a_newer_one(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    body = body_of(event("unfollow", ms=2_000), event("follow", ms=1_000))
    await post(node_http, body, signature(body))
    assert await friendship(node) == {USER: False}


async def test_unknown_tenant_is_404(node: Node, node_http: httpx.AsyncClient) -> None:
    await node.add_tenant()
    body = body_of(event("follow"))
    response = await node_http.post(
        "/line/13101/webhook", content=body, headers={"X-Line-Signature": signature(body)}
    )
    assert response.status_code == 404


async def test_an_empty_event_list_is_a_connectivity_check(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    body = body_of()
    assert (await post(node_http, body, signature(body))).status_code == 200


async def test_every_new_event_is_stored_pending_in_the_inbox_as_line_sent_it(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    postback = event("postback", replyToken="r" * 32, postback={"data": "v=1&a=settings"})
    follow = event("follow", ms=1_700_000_000_100)
    body = body_of(postback, follow)
    response = await post(node_http, body, signature(body))
    assert response.json() == {"received": 2, "new": 2}
    async with node.sessions() as session:
        rows = list(await session.scalars(select(LineInboxEvent).order_by(LineInboxEvent.id)))
    assert [(r.webhook_event_id, r.type, r.user_id, r.state, r.attempts) for r in rows] == [
        (postback["webhookEventId"], "postback", USER, "pending", 0),
        (follow["webhookEventId"], "follow", USER, "pending", 0),
    ]
    assert rows[0].payload == postback
    assert rows[1].payload == follow


async def test_an_id_repeated_inside_one_body_is_stored_once(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    follow = event("follow")
    body = body_of(follow, follow)
    response = await post(node_http, body, signature(body))
    assert response.json() == {"received": 2, "new": 1}
    assert await stored_events(node) == 1


async def test_other_event_types_are_recorded_but_change_no_friendship(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    message = event(
        "message",
        replyToken="r" * 32,
        message={"id": "1", "type": "text", "text": "こんにちは", "quoteToken": "q"},
    )
    body = body_of(message, event("mystery"))
    response = await post(node_http, body, signature(body))
    assert response.status_code == 200
    assert await friendship(node) == {}
    assert await stored_events(node) == 2


async def test_a_signed_body_that_is_not_json_is_400(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    body = b"not json"
    assert (await post(node_http, body, signature(body))).status_code == 400
