from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import StateDep
from municipal_node.residents import service
from municipal_node.residents.csv_format import CsvIssue

router = APIRouter(prefix="/api/tenants/{code}")

Editor = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR))]

MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def _issues(issues: tuple[CsvIssue, ...] | list[CsvIssue]) -> list[dict[str, Any]]:
    return [
        {
            "line": issue.line,
            "column": issue.column,
            "code": issue.code,
            "message_ja": issue.message_ja,
            "message_en": issue.message_en,
        }
        for issue in issues
    ]


@router.post("/residents/import")
async def import_residents(
    access: Editor,
    request: Request,
    state: StateDep,
    skip_bad: Annotated[bool, Query(description="import the good lines, report the bad")] = False,
) -> JSONResponse:
    """Body: the CSV itself (``text/csv``). Streams to a temporary file, then imports.

    200 ``{rows, inserted, updated, removed, skipped, issue_count, issues}``; 422 with ``code``
    ``CSV_INVALID`` or ``TOO_MANY_BAD_LINES`` and every issue when nothing was imported."""
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
                skip_bad=skip_bad,
                max_bad_share=state.settings.import_max_bad_share,
            )
        except service.UnknownTenantError:
            return JSONResponse({"code": "UNKNOWN_TENANT", "message": "unknown tenant"}, 404)
        except service.CsvRejectedError as exc:
            return JSONResponse(
                {
                    "code": exc.code,
                    "message": exc.message,
                    "records": exc.report.records,
                    "bad_lines": len(exc.report.bad_lines),
                    "issue_count": exc.report.issue_count,
                    "issues": _issues(exc.issues),
                },
                status_code=422,
            )
        except service.ImportConflictError as exc:
            return JSONResponse({"code": "CONFLICT", "message": str(exc)}, status_code=409)
        return JSONResponse(
            {
                "rows": summary.rows,
                "inserted": summary.inserted,
                "updated": summary.updated,
                "removed": summary.removed,
                "skipped": summary.skipped,
                "issue_count": summary.issue_count,
                "issues": _issues(summary.issues),
            }
        )
    finally:
        path.unlink(missing_ok=True)
