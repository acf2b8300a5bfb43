"""Public report pages: ``GET /reports`` (notices with reports) and
``GET /reports/{publisher}/{notice_id}`` (per phase and municipality, with totals).

Public like ``deliveryReports``: reports are suppressed aggregates without personal data.
Malformed or unknown ids are a 404 page, never a 500.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from hub.state import HubState
from hub.stats.render import render_index, render_not_found, render_notice_reports
from hub.stats.service import ViewRequestError, notice_reports, reported_notices

INDEX_LIMIT = 200
CACHE = {"Cache-Control": "public, max-age=60"}


def stats_router() -> APIRouter:
    router = APIRouter()

    @router.get("/reports", response_class=HTMLResponse)
    async def reports_index(request: Request) -> HTMLResponse:
        hub: HubState = request.app.state.hub
        async with hub.transaction() as session:
            notices = await reported_notices(session, limit=INDEX_LIMIT)
        return HTMLResponse(render_index(notices), headers=CACHE)

    @router.get("/reports/{publisher}/{notice_id}", response_class=HTMLResponse)
    async def notice_reports_page(request: Request, publisher: str, notice_id: str) -> HTMLResponse:
        hub: HubState = request.app.state.hub
        try:
            async with hub.transaction() as session:
                view = await notice_reports(session, publisher=publisher, notice_id=notice_id)
        except ViewRequestError:
            return HTMLResponse(render_not_found(), status_code=404)
        return HTMLResponse(render_notice_reports(view), headers=CACHE)

    return router
