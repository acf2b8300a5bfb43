"""``/api/tenants/{code}/segments``: editors write, viewers read (admin implies both)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.segments import repository, service
from municipal_node.segments.ages import jst_date
from municipal_node.segments.http_errors import ApiRoute
from municipal_node.segments.schemas import (
    CountOut,
    PreviewIn,
    PreviewOut,
    SegmentIn,
    SegmentOut,
    shown_count,
)

router = APIRouter(prefix="/api/tenants/{code}", route_class=ApiRoute, tags=["segments"])

Editor = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR))]
Viewer = Annotated[TenantAccess, Depends(tenant_access(Role.VIEWER, Role.EDITOR, Role.APPROVER))]

_WITHHELD_ROLE = "見本は編集者にだけ表示します / the sample is shown to editors only"
_WITHHELD_SMALL = "10件未満のため見本は表示しません / no sample below 10"


@router.get("/segments")
async def list_segments(access: Viewer, session: SessionDep) -> list[SegmentOut]:
    segments = await repository.list_segments(session, access.tenant_code)
    return [SegmentOut.of(segment) for segment in segments]


@router.post("/segments", status_code=201)
async def create_segment(
    access: Editor, body: SegmentIn, session: SessionDep, state: StateDep
) -> SegmentOut:
    segment = await service.create(
        session,
        tenant_code=access.tenant_code,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
    return SegmentOut.of(segment)


@router.post("/segments/preview")
async def preview_segment(
    access: Viewer, body: PreviewIn, session: SessionDep, state: StateDep
) -> PreviewOut:
    """Count an unsaved spec; editors also see up to 5 records when the count is ≥ 10."""
    now = state.clock.now()
    on = body.on or jst_date(now)
    editor = access.principal.may(access.tenant_code, (Role.EDITOR,))
    result = await service.preview(
        session,
        sealer=state.sealer,
        tenant_code=access.tenant_code,
        spec=body.spec,
        on=on,
        actor=access.actor,
        now=now,
        with_sample=editor,
    )
    withheld = None
    if not editor:
        withheld = _WITHHELD_ROLE
    elif result.sample is None:
        withheld = _WITHHELD_SMALL
    return PreviewOut(
        count=shown_count(result.count),
        on=on,
        sample=result.sample or [],
        sample_withheld=withheld,
    )


@router.get("/segments/{segment_id}")
async def get_segment(access: Viewer, segment_id: int, session: SessionDep) -> SegmentOut:
    segment = await service.get(session, tenant_code=access.tenant_code, segment_id=segment_id)
    return SegmentOut.of(segment)


@router.put("/segments/{segment_id}")
async def replace_segment(
    access: Editor, segment_id: int, body: SegmentIn, session: SessionDep, state: StateDep
) -> SegmentOut:
    segment = await service.replace(
        session,
        tenant_code=access.tenant_code,
        segment_id=segment_id,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
    return SegmentOut.of(segment)


@router.delete("/segments/{segment_id}", status_code=204)
async def delete_segment(access: Editor, segment_id: int, session: SessionDep) -> Response:
    await service.delete(session, tenant_code=access.tenant_code, segment_id=segment_id)
    return Response(status_code=204)


@router.get("/segments/{segment_id}/count")
async def count_segment(
    access: Viewer,
    segment_id: int,
    session: SessionDep,
    state: StateDep,
    on: date | None = None,
) -> CountOut:
    """The live count of a saved segment ("<10" below 10); ``on`` defaults to today (JST)."""
    now = state.clock.now()
    day = on or jst_date(now)
    segment = await service.get(session, tenant_code=access.tenant_code, segment_id=segment_id)
    result = await service.preview(
        session,
        sealer=state.sealer,
        tenant_code=access.tenant_code,
        spec=service.spec_of(segment),
        on=day,
        actor=access.actor,
        now=now,
        with_sample=False,
        segment_id=segment.id,
    )
    return CountOut(count=shown_count(result.count), on=day)
