"""strawberry's FastAPI router, hardened: any undecodable body is a 400, never a 500.

POSTed feed reads and publishes that the direct paths can answer never reach it: the hub's
HTTP middleware answers them in front of the framework (``hub.graphql.direct_lane``)."""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from strawberry.fastapi import GraphQLRouter
from strawberry.http.types import QueryParams
from strawberry.types.unset import UNSET, UnsetType

from hub.graphql.context import HubContext
from hub.subscribers.live import HubTransportWSHandler, authenticate_connection


class HubGraphQLRouter(GraphQLRouter[HubContext, None]):
    graphql_transport_ws_handler_class = HubTransportWSHandler

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
