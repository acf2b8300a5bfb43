"""The live subscription ``noticePublished`` (graphql-transport-ws on ``/graphql``).

Authentication happens once, in ``connection_init``: its payload must be
``{"authorization": "Bearer <credential>"}`` of an active subscriber, else the socket is closed
with code 4401 before anything else is accepted. Each hint carries only ``{seq}`` of a newly
accepted notice covering the subscriber's municipality; the node reads the feed after it.
A long-lived connection re-checks its credential every ``HintFanout.recheck_seconds`` while it
is idle, so suspending a subscriber (or rotating its credential) cuts it off with 4401.

Fan-out cost: a hint goes to every connected subscriber at once (1,741 municipalities), so the
usual documents (``subscription { noticePublished { seq } }``, aliases and ``__typename``
allowed) are streamed by ``HubTransportWSHandler`` itself: the same hint loop
(``hint_stream``), the same ``next`` message, without running the GraphQL executor per hint
and connection. Any other document takes strawberry's path.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import suppress
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)
from starlette.websockets import WebSocket, WebSocketState
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from hub.graphql.context import HubContext, Info
from hub.graphql.types import NoticeHintType

CLOSE_UNAUTHENTICATED = 4401
HINT_PLAN_CACHE_SIZE = 64
_HINT_FIELDS = frozenset({"seq", "__typename"})

# query text -> (response key of noticePublished, [(response key, field name)]) or None
_hint_plans: OrderedDict[str, tuple[str, tuple[tuple[str, str], ...]] | None] = OrderedDict()


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


def _hint_plan_of(query: str, schema: Any) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    try:
        document = parse(query, max_tokens=200)
    except (GraphQLError, RecursionError):
        return None
    if len(document.definitions) != 1 or validate(schema, document):
        return None
    operation = document.definitions[0]
    if (
        not isinstance(operation, OperationDefinitionNode)
        or operation.operation is not OperationType.SUBSCRIPTION
        or operation.directives
        or operation.variable_definitions
        or len(operation.selection_set.selections) != 1
    ):
        return None
    field = operation.selection_set.selections[0]
    if (
        not isinstance(field, FieldNode)
        or field.name.value != "noticePublished"
        or field.directives
        or field.arguments
        or field.selection_set is None
    ):
        return None
    leaves: list[tuple[str, str]] = []
    for node in field.selection_set.selections:
        if (
            not isinstance(node, FieldNode)
            or node.directives
            or node.name.value not in _HINT_FIELDS
        ):
            return None
        key = node.alias.value if node.alias is not None else node.name.value
        if any(key == seen for seen, _ in leaves):
            return None
        leaves.append((key, node.name.value))
    top = field.alias.value if field.alias is not None else field.name.value
    return top, tuple(leaves)


def hint_plan(query: str, schema: Any) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """How to render hints for ``query`` directly, or None (the query takes strawberry's path).
    Cached by query text; ``schema`` is the graphql-core schema it is validated against."""
    if query in _hint_plans:
        _hint_plans.move_to_end(query)
        return _hint_plans[query]
    plan = _hint_plan_of(query, schema) if len(query) <= 1000 else None
    _hint_plans[query] = plan
    while len(_hint_plans) > HINT_PLAN_CACHE_SIZE:
        _hint_plans.popitem(last=False)
    return plan


class HubTransportWSHandler(BaseGraphQLTransportWSHandler[HubContext, None]):
    """strawberry's graphql-transport-ws handler, closing with 4401 when auth fails (strawberry
    itself only knows 4403 for a rejected connection), streaming hints directly (see above)."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except WebSocketUnauthenticated:
            await self.websocket.close(code=CLOSE_UNAUTHENTICATED, reason="Unauthorized")

    async def run_operation(self, operation: Operation[HubContext, None]) -> None:
        plan = None
        if not operation.variables and operation.operation_name is None:
            plan = hint_plan(operation.query, getattr(self.schema, "_schema", None))
        if plan is None or not isinstance(self.context, HubContext):
            await super().run_operation(operation)
            return
        top, leaves = plan
        try:
            async for seq in hint_stream(self.context):
                hint: dict[str, object] = {
                    key: (seq if name == "seq" else "NoticeHint") for key, name in leaves
                }
                await operation.send_operation_message(
                    {"id": operation.id, "type": "next", "payload": {"data": {top: hint}}}
                )
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except Exception as error:  # pragma: no cover - as strawberry's run_operation
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise


async def _close_unauthenticated(context: HubContext) -> None:
    socket = context.request
    if isinstance(socket, WebSocket) and socket.application_state != WebSocketState.DISCONNECTED:
        await socket.close(code=CLOSE_UNAUTHENTICATED, reason="Unauthorized")


async def resolve_notice_published(info: Info) -> AsyncGenerator[NoticeHintType, None]:
    await info.context.require_subscriber()
    async for seq in hint_stream(info.context):
        yield NoticeHintType(seq=seq)


async def hint_stream(context: HubContext) -> AsyncIterator[int]:
    """The seqs to hint to this connection's subscriber, until its credential stops working
    (then the socket is closed with 4401 and the stream ends)."""
    subscriber = await context.find_subscriber()
    if subscriber is None:
        await _close_unauthenticated(context)
        return
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
                yield seq


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
