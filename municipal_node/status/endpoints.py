from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep
from municipal_node.status import service
from municipal_node.status.schemas import NoticeStatus, RejectionOut

router = APIRouter(prefix="/api/tenants/{code}")

Viewer = Annotated[TenantAccess, Depends(tenant_access(Role.VIEWER, Role.EDITOR, Role.APPROVER))]


@router.get("/notices")
async def notices(access: Viewer, session: SessionDep) -> list[NoticeStatus]:
    return await service.notice_statuses(session, tenant_code=access.tenant_code)


@router.get("/rejections")
async def rejections(access: Viewer, session: SessionDep) -> list[RejectionOut]:
    return await service.rejection_list(session, tenant_code=access.tenant_code)
