"""The municipal node's FastAPI app: ``create_app(settings)``.

The lifespan builds the engine, upgrades the schema to head, and starts per-tenant feed
followers and dispatchers (``run_workers=False`` for tools and tests that drive them by
hand); on shutdown the workers finish their step and the engine is disposed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from municipal_node.api.auth import register_staff_resolver
from municipal_node.api.deps import StateDep
from municipal_node.applications.endpoints import router as applications_router
from municipal_node.campaigns.clicks import router as clicks_router
from municipal_node.campaigns.endpoints import router as campaigns_router
from municipal_node.clock import Clock, clock_from_settings
from municipal_node.db.engine import create_engine, session_factory
from municipal_node.db.migrate import upgrade_to_head
from municipal_node.dispatch.endpoints import router as dispatch_router
from municipal_node.dispatch.worker import LineOptions
from municipal_node.kpis.endpoints import router as kpis_router
from municipal_node.line.endpoints import router as line_router
from municipal_node.linking.digest import node_lookup
from municipal_node.linking.endpoints import router as linking_router
from municipal_node.privacy.schedule import RetentionTask
from municipal_node.recurring.endpoints import router as recurring_router
from municipal_node.relay_rules.approval_endpoints import router as approvals_router
from municipal_node.relay_rules.endpoints import router as relay_rules_router
from municipal_node.reports.task import ReportTask
from municipal_node.residents.endpoints import router as residents_router
from municipal_node.scheduler.runner import Scheduler, SchedulerOptions
from municipal_node.segments.endpoints import router as segments_router
from municipal_node.settings import NodeSettings
from municipal_node.staff.endpoints import router as staff_router
from municipal_node.staff.sessions import resolve_principal
from municipal_node.state import NodeState
from municipal_node.status.endpoints import router as status_router
from municipal_node.workers import HubOptions, Workers

log = logging.getLogger(__name__)


def create_app(
    settings: NodeSettings, *, clock: Clock | None = None, run_workers: bool = True
) -> FastAPI:
    the_clock: Clock = clock or clock_from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        sealer = settings.sealer()
        workers: Workers | None = None
        if run_workers:
            workers = Workers(
                sessions=sessions,
                sealer=sealer,
                clock=the_clock,
                interval=settings.poll_interval_seconds,
                line=LineOptions.from_settings(settings),
                code_lookup=node_lookup(settings),
                retention=RetentionTask(sessions=sessions, settings=settings, clock=the_clock),
                reports=ReportTask(
                    sessions=sessions, sealer=sealer, settings=settings, clock=the_clock
                ),
                scheduler=Scheduler(
                    sessions=sessions,
                    sealer=sealer,
                    clock=the_clock,
                    options=SchedulerOptions.from_settings(settings),
                ),
                hub=HubOptions(
                    timeout_seconds=settings.hub_timeout_seconds,
                    subscribe=settings.subscribe,
                    idle_poll_seconds=settings.idle_poll_seconds,
                    backoff_base_seconds=settings.hub_backoff_base_seconds,
                    backoff_cap_seconds=settings.hub_backoff_cap_seconds,
                ),
            )
        app.state.node = NodeState(settings, engine, sessions, sealer, the_clock, workers)
        try:
            if workers is not None:
                await workers.start()
            yield
        finally:
            if workers is not None:
                await workers.stop()
            await engine.dispose()

    app = FastAPI(title="Todoke municipal node", lifespan=lifespan)
    app.include_router(line_router)
    app.include_router(status_router)
    app.include_router(residents_router)
    app.include_router(linking_router)
    app.include_router(segments_router)
    app.include_router(relay_rules_router)
    app.include_router(approvals_router)
    app.include_router(dispatch_router)
    app.include_router(staff_router)
    app.include_router(recurring_router)
    app.include_router(applications_router)
    app.include_router(campaigns_router)
    app.include_router(kpis_router)
    app.include_router(clicks_router)
    register_staff_resolver(resolve_principal)

    @app.get("/healthz")
    async def healthz(state: StateDep) -> JSONResponse:
        workers = state.workers
        tenants = workers.health() if workers is not None else {}
        scheduler = workers.scheduler_health() if workers is not None else "disabled"
        halted = any(
            status.startswith("halted") for entry in tenants.values() for status in entry.values()
        )
        return JSONResponse(
            {"status": "degraded" if halted else "ok", "scheduler": scheduler, "tenants": tenants},
            status_code=503 if halted else 200,
        )

    return app
