from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from municipal_node.api.deps import StateDep
from municipal_node.db.engine import unit_of_work
from municipal_node.line import service
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/line/{code}/webhook")
async def webhook(code: str, request: Request, state: StateDep) -> JSONResponse:
    """Verify, then store in one transaction committed before LINE gets its 200."""
    async with state.sessions() as session:
        tenant = await load_config(session, code, sealer=state.sealer)
    if tenant is None:
        return JSONResponse({"code": "UNKNOWN_TENANT", "message": "unknown tenant"}, 404)
    body = await request.body()
    try:
        events = service.parse(
            body,
            request.headers.get("x-line-signature"),
            channel_secret=tenant.line_channel_secret,
        )
    except service.BadWebhookError as exc:
        log.warning("tenant %s: webhook refused: %s", code, exc)
        return JSONResponse({"code": "BAD_WEBHOOK", "message": str(exc)}, 400)
    async with unit_of_work(state.sessions) as session:
        outcome = await service.apply_events(
            session, tenant_code=code, events=events, now=state.clock.now()
        )
    return JSONResponse({"received": outcome.events, "new": outcome.new})
