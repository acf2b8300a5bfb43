from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from municipal_node.api.deps import StateDep
from municipal_node.db.engine import unit_of_work
from municipal_node.line import service
from municipal_node.state import NodeState
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)
router = APIRouter()


def _wake_inbox(state: NodeState, code: str) -> None:
    """Tell the tenant's inbox worker there is work (when this process runs workers)."""
    if state.workers is None:
        return
    entry = state.workers.tenants.get(code)
    if entry is not None and entry.inbox is not None:
        entry.inbox.wake.set()


@router.post("/line/{code}/webhook")
async def webhook(code: str, request: Request, state: StateDep) -> JSONResponse:
    """Verify, then store in one transaction committed before LINE gets its 200; the inbox
    worker acts on the events (replies, settings, linking) afterwards."""
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
        return JSONResponse(
            {"code": "BAD_WEBHOOK", "message": f"署名または本文が不正です / {exc}"}, 400
        )
    async with unit_of_work(state.sessions) as session:
        outcome = await service.accept_events(
            session, tenant_code=code, events=events, now=state.clock.now()
        )
    if outcome.new:
        _wake_inbox(state, code)
    return JSONResponse({"received": outcome.events, "new": outcome.new})
