"""``create_app``: the sandbox FastAPI application; all state is built in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from line_sandbox import account_link, admin, admin_bench, admin_faults, chat, messaging, richmenu
from line_sandbox import insight as insight_api
from line_sandbox import liff as liff_api
from line_sandbox.channels import AdminError, create_channel
from line_sandbox.clock import Clock, clock_from_settings
from line_sandbox.settings import SandboxSettings
from line_sandbox.store import SandboxState
from line_sandbox.webhooks import WebhookSender


def _initial_channel(state: SandboxState, settings: SandboxSettings) -> None:
    if settings.channel_name is None:
        return
    create_channel(
        state,
        name=settings.channel_name,
        secret=settings.channel_secret or "",
        token=settings.channel_access_token or "",
        webhook_url=settings.webhook_url,
        bench=settings.channel_bench,
        friend_count=settings.friends,
    )


def routers() -> list[APIRouter]:
    """Every router of the sandbox, in the order they are matched. A new feature adds its
    router here, anywhere before ``messaging.build_fallback_router()``, which must stay last
    (it answers LINE's 404 for every other ``/v2/...`` path)."""
    return [
        messaging.build_router(),
        admin.build_router(),
        admin_faults.build_router(),
        admin_bench.build_router(),
        chat.build_router(),
        account_link.build_router(),
        richmenu.build_router(),
        insight_api.build_router(),
        liff_api.build_router(),
        messaging.build_fallback_router(),
    ]


def create_app(settings: SandboxSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The LINE sandbox: LINE API paths under ``/v2``, admin under ``/sandbox``."""
    resolved = settings if settings is not None else SandboxSettings()
    used_clock: Clock = clock if clock is not None else clock_from_settings(resolved)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
            state = SandboxState(resolved, used_clock, WebhookSender(client, resolved, used_clock))
            _initial_channel(state, resolved)
            app.state.sandbox = state
            app.state.account_links = account_link.AccountLinkStore()
            app.state.rich_menus = richmenu.RichMenuStore()
            app.state.liff = liff_api.LiffStore()
            yield

    app = FastAPI(
        title="Todoke LINE sandbox",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.exception_handler(AdminError)
    async def admin_error(request: Request, exc: AdminError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    for router in routers():
        app.include_router(router)
    return app
