"""The direct lane: ``POST /graphql`` requests that the direct paths can answer, answered in
front of the web framework.

``hub.subscribers.direct.DirectFeed`` (feed reads) and ``hub.publishers.direct.DirectPublish``
(publishes) answer the documents nodes and publishers send over and over, within every limit,
without strawberry's executor. They used to be called from inside the GraphQL route, after
Starlette's exception middleware, routing and FastAPI's dependency solving had run for the
request: about a third of the hub's CPU per feed read when 1,741 subscribers read at once.
``HubHTTPMiddleware`` now offers each ``POST /graphql`` body to ``DirectLane.answer`` first;
``None`` (anything the direct paths do not answer) sends the request on to the GraphQL route
unchanged, which gives the usual answers (errors, 429, UNAUTHENTICATED).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Scope

from hub.graphql.limits import AbuseGuard
from hub.publishers.batch import app_batcher
from hub.publishers.direct import DirectPublish
from hub.state import HubState
from hub.subscribers.direct import DirectFeed

_STREAMING_ACCEPT = ("multipart/mixed", "text/event-stream")


class DirectLane:
    def __init__(self, feed: DirectFeed, publish: DirectPublish) -> None:
        self.feed = feed
        self.publish = publish

    @classmethod
    def for_schema(cls, schema: Any) -> DirectLane | None:
        """The lane sharing the limits and budgets of the schema's abuse guard (None when the
        schema has none: then every request takes the GraphQL path)."""
        for factory in getattr(schema, "extensions", ()):
            guard = factory() if callable(factory) and not isinstance(factory, type) else None
            if isinstance(guard, AbuseGuard):
                limiter = guard.rate_limiter
                return cls(
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

    async def answer(self, scope: Scope, body: bytes) -> bytes | None:
        """The JSON response body for a ``POST /graphql`` request, or None: GraphQL path."""
        content_type = accept = ""
        authorization: str | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        if content_type.split(";", 1)[0].strip().lower() != "application/json" or any(
            kind in accept for kind in _STREAMING_ACCEPT
        ):
            return None
        state = getattr(scope.get("app"), "state", None)
        hub = getattr(state, "hub", None)
        if not isinstance(hub, HubState):
            return None  # not started (lifespan): the GraphQL path says so
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # the GraphQL path answers it (400)
        if not isinstance(request, dict):
            return None
        client = scope.get("client")
        client_ip = client[0] if client else None
        query = request.get("query")
        if isinstance(query, str) and query.lstrip().startswith("mutation"):
            answer = await self.publish.answer(
                hub, app_batcher(state), body=request, client_ip=client_ip
            )
        else:
            answer = await self.feed.answer(
                hub, body=request, authorization=authorization, client_ip=client_ip
            )
        if answer is None:
            return None
        return orjson.dumps(answer)
