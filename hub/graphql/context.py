"""Per-request GraphQL context: the app's ``HubState``, the request id and the caller's
subscriber credential (the ``Authorization`` header over HTTP, the ``connection_init``
payload over WebSocket)."""

from __future__ import annotations

import uuid
from typing import TypeAlias

import strawberry
from graphql import GraphQLError
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from hub.state import HubState
from hub.subscribers.registry import AuthenticatedSubscriber, authenticate

UNAUTHENTICATED_MESSAGE = (
    "購読者の認証が必要です / a valid subscriber credential is required "
    "(Authorization: Bearer <credential>)"
)


def unauthenticated() -> GraphQLError:
    return GraphQLError(UNAUTHENTICATED_MESSAGE, extensions={"code": "UNAUTHENTICATED"})


class HubContext(BaseContext):
    def __init__(self, hub: HubState, request_id: str, authorization: str | None = None) -> None:
        super().__init__()
        self.hub = hub
        self.request_id = request_id
        self.authorization = authorization
        self._subscriber: AuthenticatedSubscriber | None = None

    async def find_subscriber(self) -> AuthenticatedSubscriber | None:
        """The active subscriber the credential names (checked once per request), or None."""
        if self._subscriber is None and self.authorization is not None:
            async with self.hub.transaction() as session:
                self._subscriber = await authenticate(session, authorization=self.authorization)
        return self._subscriber

    async def require_subscriber(self) -> AuthenticatedSubscriber:
        """The caller as a subscriber, or a GraphQL error with code UNAUTHENTICATED."""
        subscriber = await self.find_subscriber()
        if subscriber is None:
            raise unauthenticated()
        return subscriber

    async def recheck_subscriber(self) -> AuthenticatedSubscriber | None:
        """Authenticate again (long-lived connections: the subscriber may be suspended)."""
        self._subscriber = None
        return await self.find_subscriber()


Info: TypeAlias = strawberry.Info[HubContext, None]


async def get_context(request: HTTPConnection) -> HubContext:
    hub: HubState = request.app.state.hub
    request_id = str(getattr(request.state, "request_id", "") or uuid.uuid4().hex)
    websocket = request.scope["type"] == "websocket"
    authorization = None if websocket else request.headers.get("authorization")
    return HubContext(hub, request_id, authorization)
