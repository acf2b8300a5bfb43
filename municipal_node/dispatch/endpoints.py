"""Sends (送信) of a tenant: list and detail (viewer), cancel a notice's sends (editor or
approver, a reason required). Refusals are ``{"detail": {"code", "message"}}``, Japanese first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.dispatch import control
from municipal_node.dispatch.schemas import (
    CancelIn,
    CancelOut,
    DispatchError,
    SendJobDetail,
    SendJobOut,
)
from municipal_node.segments.http_errors import ApiError, ApiRoute

router = APIRouter(prefix="/api/tenants/{code}", route_class=ApiRoute, tags=["sends"])

Viewer = Annotated[TenantAccess, Depends(tenant_access(Role.VIEWER, Role.EDITOR, Role.APPROVER))]
Canceller = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR, Role.APPROVER))]

_STATUS = {
    control.NOT_FOUND: 404,
    control.NOTICE_NOT_FOUND: 404,
    control.NOTHING_TO_CANCEL: 409,
    control.NOT_HELD: 409,
    control.REASON_REQUIRED: 422,
}


def _api_error(exc: DispatchError) -> ApiError:
    return ApiError(exc.code, exc.message, _STATUS.get(exc.code, 422))


@router.get("/sends")
async def list_sends(
    access: Viewer,
    session: SessionDep,
    state: Annotated[str | None, Query(description="planning, held, sending, done, …")] = None,
    before: Annotated[int | None, Query(ge=1, description="page on: ids below this")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SendJobOut]:
    """Send jobs of the tenant, newest first, with their counts (aggregates only)."""
    try:
        return await control.list_jobs(
            session, tenant_code=access.tenant_code, state=state, before_id=before, limit=limit
        )
    except DispatchError as exc:
        raise _api_error(exc) from exc


@router.get("/sends/{job_id}")
async def read_send(access: Viewer, session: SessionDep, job_id: int) -> SendJobDetail:
    try:
        return await control.get_job(session, tenant_code=access.tenant_code, job_id=job_id)
    except DispatchError as exc:
        raise _api_error(exc) from exc


@router.post("/notices/{publisher}/{notice_id}/cancel")
async def cancel_notice(
    access: Canceller,
    session: SessionDep,
    state: StateDep,
    publisher: str,
    notice_id: str,
    body: CancelIn,
) -> CancelOut:
    """Stop every pending send of the notice at once (送信の取消)."""
    try:
        count = await control.cancel_notice(
            session,
            tenant_code=access.tenant_code,
            publisher=publisher,
            notice_id=notice_id,
            actor=access.actor,
            now=state.clock.now(),
            reason=body.reason,
        )
    except DispatchError as exc:
        raise _api_error(exc) from exc
    notice = await control.notice_state(
        session, tenant_code=access.tenant_code, publisher=publisher, notice_id=notice_id
    )
    # durable before the answer: the session dependency commits only after the response is
    # sent, and a sender must not see the batches pending once the caller was told they stopped
    await session.commit()
    return CancelOut(
        publisher=publisher, notice_id=notice_id, cancelled_batches=count, notice_state=notice
    )
