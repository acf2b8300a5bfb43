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
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from hub.cap.endpoints import cap_router
from hub.clock import Clock, clock_from_settings
from hub.db import create_engine, create_sessionmaker, upgrade_to_head
from hub.graphql.context import get_context
from hub.graphql.direct_lane import DirectLane
from hub.graphql.limits import QueryLimits
from hub.graphql.router import HubGraphQLRouter
from hub.graphql.schema import build_schema
from hub.http import HubHTTPMiddleware
from hub.identity import HubIdentity
from hub.ratelimit import HubRateLimiter, RateLimit, Ticker
from hub.settings import HubSettings
from hub.state import HubState
from hub.stats.endpoints import stats_router
from hub.subscribers.fanout import HintFanout
from hub.subscribers.keyset import KeySetSigner


def create_app(
    settings: HubSettings, *, clock: Clock | None = None, ticker: Ticker | None = None
) -> FastAPI:
    """Build the hub. Fails at start-up (not at import) when the root key is unusable."""
    identity = HubIdentity.load(settings)  # fail fast, before anything listens
    the_clock: Clock = clock or clock_from_settings(settings)
    # ticker: monotonic seconds for the rate limiter's buckets (tests inject one)
    rate_limiter = HubRateLimiter.build(
        publish=RateLimit(settings.rate_publish_per_second, settings.rate_publish_burst),
        reads=RateLimit(settings.rate_read_per_second, settings.rate_read_burst),
        ticker=ticker,
        max_clients=settings.rate_max_clients,
    )
    limits = QueryLimits(
        max_depth=settings.query_max_depth,
        max_aliases=settings.query_max_aliases,
        max_tokens=settings.query_max_tokens,
        max_cost=settings.query_max_cost,
        max_query_chars=settings.query_max_chars,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
        engine = create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        fanout = HintFanout(
            database_url=settings.database_url,
            backend=engine.dialect.name,
            sessionmaker=sessionmaker,
        )
        app.state.hub = HubState(
            settings=settings,
            identity=identity,
            clock=the_clock,
            engine=engine,
            sessionmaker=sessionmaker,
            keyset_signer=KeySetSigner(
                identity, validity=timedelta(hours=settings.keyset_validity_hours)
            ),
            fanout=fanout,
        )
        await fanout.start()  # PostgreSQL: LISTEN todoke_notice_published
        try:
            yield
        finally:
            await fanout.stop()
            await engine.dispose()

    app = FastAPI(title="Todoke hub", lifespan=lifespan, docs_url=None, redoc_url=None)
    schema = build_schema(limits=limits, rate_limiter=rate_limiter)
    graphql = HubGraphQLRouter(
        schema,
        context_getter=get_context,
        graphql_ide=None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),  # auth is defined for it only
        connection_init_wait_timeout=timedelta(seconds=10),
    )
    app.include_router(graphql, prefix="/graphql")
    app.include_router(cap_router())  # GET /notices/{publisher}/{notice_id}/cap.xml
    app.include_router(stats_router())  # GET /reports, /reports/{publisher}/{notice_id}

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        hub: HubState = request.app.state.hub
        try:
            async with hub.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "hub": hub.identity.hub_id})

    app.add_middleware(
        HubHTTPMiddleware,
        max_body_bytes=settings.max_body_bytes,
        direct=DirectLane.for_schema(schema),  # feed reads and publishes, ahead of FastAPI
    )
    return app
