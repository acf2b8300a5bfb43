from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from municipal_node.api.deps import SessionDep, require_admin
from municipal_node.status import service
from municipal_node.status.schemas import NoticeStatus, RejectionOut
from municipal_node.tenants import repository as tenants

router = APIRouter(prefix="/api/tenants/{code}", dependencies=[Depends(require_admin)])


async def _known_tenant(code: str, session: SessionDep) -> str:
    if await tenants.get(session, code) is None:
        raise HTTPException(404, detail={"code": "UNKNOWN_TENANT", "message": "unknown tenant"})
    return code


TenantCode = Annotated[str, Depends(_known_tenant)]


@router.get("/notices")
async def notices(code: TenantCode, session: SessionDep) -> list[NoticeStatus]:
    return await service.notice_statuses(session, tenant_code=code)


@router.get("/rejections")
async def rejections(code: TenantCode, session: SessionDep) -> list[RejectionOut]:
    return await service.rejection_list(session, tenant_code=code)
