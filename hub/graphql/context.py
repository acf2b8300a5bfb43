"""Per-request GraphQL context: the app's ``HubState`` and the request id."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from starlette.requests import Request
from strawberry.fastapi import BaseContext

from hub.state import HubState


class HubContext(BaseContext):
    def __init__(self, hub: HubState, request_id: str) -> None:
        super().__init__()
        self.hub = hub
        self.request_id = request_id


Info: TypeAlias = strawberry.Info[HubContext, None]


async def get_context(request: Request) -> HubContext:
    hub: HubState = request.app.state.hub
    request_id = str(getattr(request.state, "request_id", "-"))
    return HubContext(hub, request_id)
