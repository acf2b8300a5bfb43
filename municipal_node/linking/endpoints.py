"""Staff API of ID連携: registration codes and their letters, unlink, erase on request."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.audit import repository as audit
from municipal_node.linking import printing, repository, service, unlinking
from municipal_node.linking.digest import node_lookup
from municipal_node.linking.schemas import IssueIn, RevokeIn, validation_problems
from municipal_node.tenants import repository as tenants

router = APIRouter(prefix="/api/tenants/{code}")

Editor = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR))]
Reader = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR, Role.VIEWER))]
M = TypeVar("M", bound=BaseModel)
USER_ID_RE = re.compile(r"U[0-9a-f]{32}")
NO_STORE = {"Cache-Control": "no-store"}


def _error(exc: service.LinkingError) -> JSONResponse:
    return JSONResponse(
        {"code": exc.code, "message": exc.message, **exc.extra}, exc.status, headers=NO_STORE
    )


async def _body(request: Request, model: type[M]) -> M | JSONResponse:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        return JSONResponse(
            {
                "code": "BAD_REQUEST",
                "message": "リクエストの内容が正しくありません / invalid request body",
                "problems": validation_problems(exc),
            },
            422,
        )


def _issue_id(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _unknown_issue() -> JSONResponse:
    return JSONResponse(
        {"code": "UNKNOWN_ISSUE", "message": "発行番号が見つかりません / unknown issue"}, 404
    )


@router.post("/registration-codes", status_code=201)
async def issue_codes(
    access: Editor, request: Request, state: StateDep, session: SessionDep
) -> Response:
    """Issue one-time codes; the codes are in this response only (and in the letters)."""
    body = await _body(request, IssueIn)
    if isinstance(body, JSONResponse):
        return body
    try:
        result = await service.issue_codes(
            session,
            sealer=state.sealer,
            lookup=node_lookup(state.settings),
            tenant_code=access.tenant_code,
            resident_ids=body.resident_ids,
            valid_days=body.valid_days,
            actor=access.actor,
            now=state.clock.now(),
        )
    except service.LinkingError as exc:
        return _error(exc)
    return JSONResponse(
        {
            "issue_id": result.issue_id,
            "issued_at": result.issued_at.isoformat(),
            "expires_at": result.expires_at.isoformat(),
            "count": len(result.codes),
            "revoked": result.revoked,
            "letters_url": (
                f"/api/tenants/{access.tenant_code}/registration-codes/{result.issue_id}/letters"
            ),
            "codes": [{"resident_id": c.resident_id, "code": c.code} for c in result.codes],
        },
        201,
        headers=NO_STORE,
    )


@router.get("/registration-codes/{issue_id}/letters")
async def letters(access: Editor, issue_id: str, state: StateDep) -> Response:
    """The printable letters (HTML, one A4 page per resident) — rendered once."""
    number = _issue_id(issue_id)
    if number is None:
        return _unknown_issue()
    async with state.sessions() as session:
        tenant = await tenants.get(session, access.tenant_code)
        try:
            await printing.printable_issue(session, tenant_code=access.tenant_code, issue_id=number)
        except service.LinkingError as exc:
            return _error(exc)
    pieces = printing.stream_letters(
        state.sessions,
        sealer=state.sealer,
        tenant_code=access.tenant_code,
        tenant_name=tenant.name if tenant is not None else access.tenant_code,
        issue_id=number,
        actor=access.actor,
        now=state.clock.now(),
    )
    try:
        first = await pieces.__anext__()
    except service.LinkingError as exc:
        return _error(exc)

    async def body() -> Any:
        yield first
        async for piece in pieces:
            yield piece

    return StreamingResponse(
        body(),
        media_type="text/html; charset=utf-8",
        headers={
            **NO_STORE,
            "Content-Disposition": f'inline; filename="letters-{number}.html"',
        },
    )


@router.get("/registration-codes/{issue_id}")
async def issue_state(
    access: Reader,
    issue_id: str,
    state: StateDep,
    session: SessionDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """The issue and its codes' states (issued / used / expired / revoked) — never the codes."""
    number = _issue_id(issue_id)
    issue = (
        None if number is None else await repository.get_issue(session, access.tenant_code, number)
    )
    if number is None or issue is None:
        return _unknown_issue()
    now = state.clock.now()
    rows = await repository.state_page(
        session, access.tenant_code, number, after=after, limit=limit
    )
    await audit.record(
        session,
        tenant_code=access.tenant_code,
        actor=access.actor,
        action="registration_codes.read",
        at=now,
        count=len(rows),
        detail={"issue_id": number},
    )
    return JSONResponse(
        {
            "issue_id": issue.id,
            "issued_by": issue.issued_by,
            "issued_at": issue.issued_at.isoformat(),
            "expires_at": issue.expires_at.isoformat(),
            "count": issue.count,
            "letters_rendered_at": (
                None if issue.letters_rendered_at is None else issue.letters_rendered_at.isoformat()
            ),
            "codes": [
                {
                    "resident_id": row.resident_id,
                    "state": service.shown_state(row.state, row.expires_at, now),
                    "used_at": None if row.used_at is None else row.used_at.isoformat(),
                    "revoked_at": None if row.revoked_at is None else row.revoked_at.isoformat(),
                }
                for row in rows
            ],
            "next": rows[-1].resident_id if len(rows) == limit else None,
        }
    )


@router.post("/registration-codes/{issue_id}/revoke")
async def revoke(
    access: Editor, issue_id: str, request: Request, state: StateDep, session: SessionDep
) -> Response:
    """Revoke unused codes of the issue (all, or those of ``resident_ids``)."""
    number = _issue_id(issue_id)
    if number is None or await repository.get_issue(session, access.tenant_code, number) is None:
        return _unknown_issue()
    body = await _body(request, RevokeIn)
    if isinstance(body, JSONResponse):
        return body
    now = state.clock.now()
    revoked = (
        0
        if body.resident_ids == []
        else await repository.revoke_outstanding(
            session,
            tenant_code=access.tenant_code,
            resident_ids=body.resident_ids or [],
            issue_id=number,
            now=now,
        )
    )
    await audit.record(
        session,
        tenant_code=access.tenant_code,
        actor=access.actor,
        action="registration_codes.revoke",
        at=now,
        count=revoked,
        detail={"issue_id": number},
    )
    return JSONResponse({"issue_id": number, "revoked": revoked})


@router.delete("/residents/{resident_id}/link")
async def unlink(
    access: Editor, resident_id: str, state: StateDep, session: SessionDep
) -> Response:
    """Undo the resident's ID連携 (the LINE friend stays a friend)."""
    try:
        unlinked = await unlinking.unlink_resident(
            session,
            tenant_code=access.tenant_code,
            resident_id=resident_id,
            actor=access.actor,
            now=state.clock.now(),
        )
    except service.LinkingError as exc:
        return _error(exc)
    return JSONResponse({"resident_id": resident_id, "unlinked": unlinked})


@router.post("/friends/{user_id}/erase")
async def erase(access: Editor, user_id: str, state: StateDep, session: SessionDep) -> Response:
    """Erase on request what the node keeps about a LINE friend (preferences, link, events)."""
    if not USER_ID_RE.fullmatch(user_id):
        return JSONResponse(
            {
                "code": "BAD_USER_ID",
                "message": "LINE ユーザーIDの形式が正しくありません（U + 32桁の16進数） / "
                "malformed LINE user id (U + 32 hex digits)",
            },
            422,
        )
    if not await repository.known_user(session, access.tenant_code, user_id):
        return JSONResponse(
            {
                "code": "UNKNOWN_FRIEND",
                "message": "この自治体にはその LINE ユーザーの情報がありません / unknown LINE user",
            },
            404,
        )
    erased = await unlinking.erase_friend(
        session,
        tenant_code=access.tenant_code,
        user_id=user_id,
        actor=access.actor,
        now=state.clock.now(),
    )
    return JSONResponse(
        {
            "unlinked": erased.unlinked,
            "preferences": erased.preferences,
            "inbox_events": erased.inbox_events,
        }
    )
