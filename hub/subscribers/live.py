"""The live subscription ``noticePublished`` (graphql-transport-ws on ``/graphql``).

Authentication happens once, in ``connection_init``: its payload must be
``{"authorization": "Bearer <credential>"}`` of an active subscriber, else the socket is closed
with code 4401 before anything else is accepted. Each hint carries only ``{seq}`` of a newly
accepted notice covering the subscriber's municipality; the node reads the feed after it.
A long-lived connection re-checks its credential every ``HintFanout.recheck_seconds`` while it
is idle, so suspending a subscriber (or rotating its credential) cuts it off with 4401.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from starlette.websockets import WebSocket, WebSocketState
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from hub.graphql.context import HubContext, Info
from hub.graphql.types import NoticeHintType

CLOSE_UNAUTHENTICATED = 4401


class WebSocketUnauthenticated(Exception):
    """connection_init without a valid, active subscriber credential."""


async def authenticate_connection(context: HubContext) -> None:
    """``on_ws_connect``: authenticate the ``connection_init`` payload or refuse (4401)."""
    params = context.connection_params
    authorization = params.get("authorization") if isinstance(params, dict) else None
    if not isinstance(authorization, str):
        raise WebSocketUnauthenticated
    context.authorization = authorization
    if await context.find_subscriber() is None:
        raise WebSocketUnauthenticated


class HubTransportWSHandler(BaseGraphQLTransportWSHandler[HubContext, None]):
    """strawberry's graphql-transport-ws handler, closing with 4401 when auth fails (strawberry
    itself only knows 4403 for a rejected connection)."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except WebSocketUnauthenticated:
            await self.websocket.close(code=CLOSE_UNAUTHENTICATED, reason="Unauthorized")


async def _close_unauthenticated(context: HubContext) -> None:
    socket = context.request
    if isinstance(socket, WebSocket) and socket.application_state != WebSocketState.DISCONNECTED:
        await socket.close(code=CLOSE_UNAUTHENTICATED, reason="Unauthorized")


async def resolve_notice_published(info: Info) -> AsyncGenerator[NoticeHintType, None]:
    context = info.context
    subscriber = await context.require_subscriber()
    fanout = context.hub.fanout
    loop = asyncio.get_running_loop()
    with fanout.broadcaster.subscribe(subscriber.municipality) as live:
        recheck_at = loop.time() + fanout.recheck_seconds
        while True:
            seq: int | None = None
            try:
                seq = await asyncio.wait_for(
                    live.next_hint(), timeout=max(0.0, recheck_at - loop.time())
                )
            except TimeoutError:
                pass
            if loop.time() >= recheck_at:  # idle or busy, the credential is checked again
                if await context.recheck_subscriber() is None:
                    await _close_unauthenticated(context)
                    return
                recheck_at = loop.time() + fanout.recheck_seconds
            if seq is not None:
                yield NoticeHintType(seq=seq)


@strawberry.type
class SubscriberSubscriptions:
    notice_published: AsyncGenerator[NoticeHintType, None] = strawberry.subscription(
        resolver=resolve_notice_published,
        description=(
            "A wake-up hint {seq} for each newly accepted notice covering the subscriber; "
            "read the feed after it. Authenticate in connection_init: "
            '{"authorization": "Bearer <credential>"} (else close 4401).'
        ),
    )
