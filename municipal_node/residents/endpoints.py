from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import StateDep
from municipal_node.residents import service

router = APIRouter(prefix="/api/tenants/{code}")

Editor = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR))]

MAX_UPLOAD_BYTES = 512 * 1024 * 1024


@router.post("/residents/import")
async def import_residents(access: Editor, request: Request, state: StateDep) -> JSONResponse:
    """Body: the CSV itself (``text/csv``). Streams to a temporary file, then imports."""
    fd, name = tempfile.mkstemp(prefix="todoke-residents-", suffix=".csv")
    path = Path(name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    return JSONResponse(
                        {"code": "TOO_LARGE", "message": "CSV が大きすぎます / CSV too large"},
                        status_code=413,
                    )
                handle.write(chunk)
        try:
            summary = await service.import_csv(
                state.sessions,
                sealer=state.sealer,
                tenant_code=access.tenant_code,
                path=path,
                actor=access.actor,
                now=state.clock.now(),
            )
        except service.UnknownTenantError:
            return JSONResponse({"code": "UNKNOWN_TENANT", "message": "unknown tenant"}, 404)
        except service.CsvRejectedError as exc:
            return JSONResponse(
                {
                    "code": "CSV_INVALID",
                    "message": "CSV に誤りがあるため取り込みませんでした / nothing imported",
                    "issues": [
                        {
                            "line": issue.line,
                            "column": issue.column,
                            "code": issue.code,
                            "message_ja": issue.message_ja,
                            "message_en": issue.message_en,
                        }
                        for issue in exc.issues
                    ],
                },
                status_code=422,
            )
        return JSONResponse(
            {
                "rows": summary.rows,
                "inserted": summary.inserted,
                "updated": summary.updated,
                "removed": summary.removed,
            }
        )
    finally:
        path.unlink(missing_ok=True)
