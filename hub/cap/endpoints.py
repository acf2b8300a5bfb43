"""``GET /notices/{publisher}/{notice_id}/cap.xml``: a stored notice as CAP 1.2 XML.

Public, like the key set: notices carry no personal data. Path parameters are checked against
the contract's id formats before any query; an unknown or malformed id is a 404 with a short
message, never a 500.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from contracts.ids import PUBLISHER_ID_RE, ULID_RE
from contracts.jws import SignedEnvelope
from contracts.notice import Notice, parse_notice
from hub.cap.render import CONTENT_TYPE, CapReference, render_cap
from hub.publishers.models import StoredNotice
from hub.publishers.repository import PublisherRepository
from hub.state import HubState

logger = logging.getLogger(__name__)


def _notice_of(row: StoredNotice) -> Notice:
    """The stored payload (verified when accepted) parsed again."""
    envelope = SignedEnvelope(protected=row.protected, payload=row.payload, signature=row.signature)
    return parse_notice(envelope.payload_bytes())


def _not_found() -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "お知らせが見つかりません / no such notice at this hub",
                    "extensions": {"code": "NOT_FOUND"},
                }
            ]
        },
        status_code=404,
    )


async def _references(
    repo: PublisherRepository, notice: Notice, *, publisher: str
) -> list[CapReference]:
    references = []
    for ref in notice.references:
        target = await repo.get_notice(ref.publisher, ref.notice_id)
        if target is None:  # the hub accepts no dangling reference (BAD_REFERENCE)
            logger.error(
                "CAP export: %s/%s references %s/%s which is not stored",
                publisher,
                notice.notice_id,
                ref.publisher,
                ref.notice_id,
            )
            continue
        references.append(
            CapReference(
                publisher=ref.publisher, notice_id=ref.notice_id, sent=_notice_of(target).sent
            )
        )
    return references


async def _render(
    session: AsyncSession, hub: HubState, publisher: str, notice_id: str
) -> bytes | None:
    repo = PublisherRepository(session)
    row = await repo.get_notice(publisher, notice_id)
    if row is None:
        return None
    notice = _notice_of(row)
    owner = await repo.get_publisher(publisher)
    return render_cap(
        notice,
        hub_id=hub.identity.hub_id,
        publisher_name=None if owner is None else owner.name,
        references=await _references(repo, notice, publisher=publisher),
    )


def cap_router() -> APIRouter:
    router = APIRouter()

    @router.get("/notices/{publisher}/{notice_id}/cap.xml", response_model=None)
    async def notice_cap(request: Request, publisher: str, notice_id: str) -> Response:
        """The notice as OASIS CAP 1.2 (urn:oasis:names:tc:emergency:cap:1.2)."""
        if PUBLISHER_ID_RE.fullmatch(publisher) is None or ULID_RE.fullmatch(notice_id) is None:
            return _not_found()
        hub: HubState = request.app.state.hub
        async with hub.transaction() as session:
            body = await _render(session, hub, publisher, notice_id)
        if body is None:
            return _not_found()
        return Response(
            content=body,
            media_type=CONTENT_TYPE,
            headers={"Cache-Control": "public, max-age=300"},
        )

    return router
