"""``/api/tenants/{code}/sends/{job_id}/approve``: approvers release held sends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.relay_rules import approvals
from municipal_node.relay_rules.schemas import ApprovalOut
from municipal_node.segments.http_errors import ApiRoute

router = APIRouter(prefix="/api/tenants/{code}", route_class=ApiRoute, tags=["approvals"])

Approver = Annotated[TenantAccess, Depends(tenant_access(Role.APPROVER))]
Viewer = Annotated[TenantAccess, Depends(tenant_access(Role.VIEWER, Role.EDITOR, Role.APPROVER))]


@router.post("/sends/{job_id}/approve")
async def approve_send(
    access: Approver, job_id: int, session: SessionDep, state: StateDep
) -> ApprovalOut:
    """Approve a held send; the last needed approval releases it (two different approvers
    when the send targets more people than the rule's two-person threshold)."""
    return await approvals.approve(
        session,
        tenant_code=access.tenant_code,
        job_id=job_id,
        actor=access.actor,
        now=state.clock.now(),
    )


@router.get("/sends/{job_id}/approvals")
async def approval_status(access: Viewer, job_id: int, session: SessionDep) -> ApprovalOut:
    return await approvals.status(session, tenant_code=access.tenant_code, job_id=job_id)
