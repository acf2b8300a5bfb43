"""strawberry's FastAPI router, hardened: any undecodable body is a 400, never a 500."""

from __future__ import annotations

import json

from cross_web import HTTPException
from strawberry.fastapi import GraphQLRouter

from hub.graphql.context import HubContext


class HubGraphQLRouter(GraphQLRouter[HubContext, None]):
    def decode_json(self, data: str | bytes) -> object:
        # strawberry turns only JSONDecodeError into a 400; bytes that are not UTF-8 and
        # absurdly deep nesting would otherwise escape as 500s.
        try:
            return json.loads(data)
        except (UnicodeDecodeError, RecursionError) as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
