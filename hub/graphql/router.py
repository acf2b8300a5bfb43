"""strawberry's FastAPI router, hardened: any undecodable body is a 400, never a 500.

POSTed feed reads and publishes that ``hub.subscribers.direct.DirectFeed`` /
``hub.publishers.direct.DirectPublish`` can answer (the documents nodes and publishers send,
within every limit) are answered directly; everything else goes through strawberry unchanged."""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.http.types import QueryParams
from strawberry.types.unset import UNSET, UnsetType

from hub.graphql.context import HubContext
from hub.graphql.limits import AbuseGuard
from hub.publishers.batch import app_batcher
from hub.publishers.direct import DirectPublish
from hub.subscribers.direct import DirectFeed
from hub.subscribers.live import HubTransportWSHandler, authenticate_connection

_STREAMING_ACCEPT = ("multipart/mixed", "text/event-stream")


def _direct_paths(schema: Any) -> tuple[DirectFeed, DirectPublish] | None:
    """The direct paths, sharing the limits and the budgets of the schema's abuse guard (None
    when the schema has none: then every request takes the GraphQL path)."""
    for factory in getattr(schema, "extensions", ()):
        guard = factory() if callable(factory) and not isinstance(factory, type) else None
        if isinstance(guard, AbuseGuard):
            limiter = guard.rate_limiter
            return (
                DirectFeed(
                    schema=schema._schema,
                    limits=guard.limits,
                    reads=limiter.reads if limiter is not None else None,
                ),
                DirectPublish(
                    schema=schema._schema,
                    limits=guard.limits,
                    publish=limiter.publish if limiter is not None else None,
                ),
            )
    return None


class HubGraphQLRouter(GraphQLRouter[HubContext, None]):
    graphql_transport_ws_handler_class = HubTransportWSHandler

    def __init__(self, schema: Any, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.direct = _direct_paths(schema)

    async def run(  # type: ignore[override]  # strawberry's overloads, one body here
        self,
        request: Request | WebSocket,
        context: HubContext | UnsetType = UNSET,
        root_value: None | UnsetType = UNSET,
    ) -> Response | WebSocket:
        if (
            self.direct is not None
            and isinstance(request, Request)
            and isinstance(context, HubContext)
            and request.method == "POST"
        ):
            response = await self._direct(request, context, *self.direct)
            if response is not None:
                return response
        return await super().run(request, context, root_value)  # type: ignore[arg-type]

    async def _direct(
        self, request: Request, context: HubContext, feed: DirectFeed, publish: DirectPublish
    ) -> Response | None:
        headers = request.headers
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        accept = headers.get("accept", "")
        if content_type != "application/json" or any(s in accept for s in _STREAMING_ACCEPT):
            return None
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None  # the GraphQL path answers it (400)
        if not isinstance(body, dict):
            return None
        client_ip = request.client.host if request.client else None
        query = body.get("query")
        if isinstance(query, str) and query.lstrip().startswith("mutation"):
            answer = await publish.answer(
                context.hub, app_batcher(request.app.state), body=body, client_ip=client_ip
            )
        else:
            answer = await feed.answer(
                context.hub, body=body, authorization=context.authorization, client_ip=client_ip
            )
        if answer is None:
            return None
        return Response(self.encode_json(answer), media_type="application/json")

    async def on_ws_connect(self, context: HubContext) -> UnsetType | dict[str, object] | None:
        # subscribers authenticate in connection_init; failure closes with 4401
        await authenticate_connection(context)
        unset: UnsetType = UNSET
        return unset

    def parse_json(self, data: str | bytes) -> Any:
        # A request body must be a JSON object (a list is a batch, refused with 400 by
        # strawberry); strawberry itself would call .get() on null/numbers/strings: a 500.
        value = self._decode_any(data)
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return value

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        # GET: ``variables``/``extensions`` may be any JSON value here; the view checks them.
        result: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            text = result.get(name)
            if text:
                result[name] = self._decode_any(text)
        return result

    def _decode_any(self, data: str | bytes) -> object:
        try:
            return self.decode_json(data)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc

    def decode_json(self, data: str | bytes) -> object:
        # strawberry turns only JSONDecodeError into a 400; bytes that are not UTF-8 and
        # absurdly deep nesting would otherwise escape as 500s.
        try:
            return json.loads(data)
        except (UnicodeDecodeError, RecursionError) as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
