"""The hub's ASGI application: ``create_app(settings)``.

Start-up (lifespan): read the root key, upgrade the database to the latest migration, build the
engine and session factory, then serve ``/graphql`` (POST and GET) and ``/healthz``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request

from hub.clock import Clock, SystemClock
from hub.db import create_engine, create_sessionmaker, upgrade_to_head
from hub.graphql.context import get_context
from hub.graphql.router import HubGraphQLRouter
from hub.graphql.schema import build_schema
from hub.http import HubHTTPMiddleware
from hub.identity import HubIdentity
from hub.settings import HubSettings
from hub.state import HubState
from hub.subscribers.keyset import KeySetSigner


def create_app(settings: HubSettings, *, clock: Clock | None = None) -> FastAPI:
    """Build the hub. Fails at start-up (not at import) when the root key is unusable."""
    identity = HubIdentity.load(settings)  # fail fast, before anything listens

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
        engine = create_engine(settings.database_url)
        app.state.hub = HubState(
            settings=settings,
            identity=identity,
            clock=clock or SystemClock(),
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            keyset_signer=KeySetSigner(
                identity, validity=timedelta(hours=settings.keyset_validity_hours)
            ),
        )
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="Todoke hub", lifespan=lifespan, docs_url=None, redoc_url=None)
    graphql = HubGraphQLRouter(build_schema(), context_getter=get_context, graphql_ide=None)
    app.include_router(graphql, prefix="/graphql")

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        hub: HubState = request.app.state.hub
        try:
            async with hub.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "hub": hub.identity.hub_id})

    app.add_middleware(HubHTTPMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
