"""Saved segments (CRUD) and their live counts and previews.

Every count or preview reads resident data, so each writes an audit row (actor, count).
Counts below 10 are shown as "<10", and a preview's sample (≤ 5 records: resident id,
district, linked or not) is given only to editors and only when the count is at least 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit import repository as audit
from municipal_node.crypto import Sealer
from municipal_node.segments import repository
from municipal_node.segments.http_errors import ApiError
from municipal_node.segments.models import Segment
from municipal_node.segments.schemas import SAMPLE_SIZE, SMALL_CELL, SampleRecord, SegmentIn
from municipal_node.segments.spec import SegmentSpec
from municipal_node.segments.stream import StreamStats, count_recipients, stream_matches


def not_found(segment_id: int) -> ApiError:
    return ApiError(
        "SEGMENT_NOT_FOUND",
        f"セグメント {segment_id} は見つかりません / segment {segment_id} not found",
        404,
    )


def _name_taken(name: str) -> ApiError:
    return ApiError(
        "SEGMENT_NAME_TAKEN",
        f"セグメント名「{name}」は既に使われています / segment name {name!r} is already in use",
        409,
    )


async def get(session: AsyncSession, *, tenant_code: str, segment_id: int) -> Segment:
    segment = await repository.get_segment(session, tenant_code, segment_id)
    if segment is None:
        raise not_found(segment_id)
    return segment


async def get_by_name(session: AsyncSession, *, tenant_code: str, name: str) -> Segment:
    segment = await repository.find_by_name(session, tenant_code, name)
    if segment is None:
        raise ApiError(
            "SEGMENT_NOT_FOUND",
            f"セグメント「{name}」は見つかりません / segment {name!r} not found",
            404,
        )
    return segment


async def create(
    session: AsyncSession, *, tenant_code: str, data: SegmentIn, actor: str, now: datetime
) -> Segment:
    if await repository.find_by_name(session, tenant_code, data.name) is not None:
        raise _name_taken(data.name)
    segment = Segment(
        tenant_code=tenant_code,
        name=data.name,
        description=data.description,
        spec=data.spec.to_json(),
        created_by=actor,
        updated_by=actor,
        created_at=now,
        updated_at=now,
    )
    try:
        return await repository.add_segment(session, segment)
    except IntegrityError as exc:  # a concurrent create with the same name
        raise _name_taken(data.name) from exc


async def replace(
    session: AsyncSession,
    *,
    tenant_code: str,
    segment_id: int,
    data: SegmentIn,
    actor: str,
    now: datetime,
) -> Segment:
    segment = await get(session, tenant_code=tenant_code, segment_id=segment_id)
    other = await repository.find_by_name(session, tenant_code, data.name)
    if other is not None and other.id != segment.id:
        raise _name_taken(data.name)
    segment.name = data.name
    segment.description = data.description
    segment.spec = data.spec.to_json()
    segment.updated_by = actor
    segment.updated_at = now
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _name_taken(data.name) from exc
    return segment


async def delete(session: AsyncSession, *, tenant_code: str, segment_id: int) -> None:
    segment = await get(session, tenant_code=tenant_code, segment_id=segment_id)
    users = await repository.rules_using_segment(session, tenant_code, segment_id)
    if users:
        names = "、".join(f"「{name}」" for name in users)
        raise ApiError(
            "SEGMENT_IN_USE",
            f"配信ルール {names} が使っているため削除できません"
            f" / segment is used by relay rule(s) {', '.join(users)}",
            409,
        )
    await repository.delete_segment(session, segment)


def spec_of(segment: Segment) -> SegmentSpec:
    return SegmentSpec.from_json(segment.spec)


@dataclass(frozen=True)
class Preview:
    count: int
    #: None when no sample was asked for or the count is below the small-cell limit
    sample: list[SampleRecord] | None


async def _count_and_sample(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    spec: SegmentSpec,
    on: date,
    want_sample: bool,
    stats: StreamStats,
) -> tuple[int, list[SampleRecord]]:
    if not want_sample:
        count = await count_recipients(
            session, sealer=sealer, tenant_code=tenant_code, spec=spec, on=on, stats=stats
        )
        return count, []
    sample: list[SampleRecord] = []
    if not spec.has_sealed_criteria:
        count = await repository.count_without_sealed(session, tenant_code=tenant_code, spec=spec)
        rows = await repository.recipient_page(
            session, tenant_code=tenant_code, spec=spec, after=None, limit=SAMPLE_SIZE, details=True
        )
        for row in rows:
            sample.append(
                SampleRecord.model_validate(_sample_fields(row.resident_id, row.district))
            )
        return count, sample
    count = 0
    async for page in stream_matches(
        session,
        sealer=sealer,
        tenant_code=tenant_code,
        spec=spec,
        on=on,
        details=True,
        stats=stats,
    ):
        count += len(page)
        for match in page[: SAMPLE_SIZE - len(sample)]:
            sample.append(
                SampleRecord.model_validate(_sample_fields(match.resident_id, match.district))
            )
    return count, sample


def _sample_fields(resident_id: str | None, district: str | None) -> dict[str, Any]:
    linked = resident_id is not None
    return {
        "resident_id": resident_id,
        "district": district if linked else None,
        "linked": linked,
    }


async def preview(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    spec: SegmentSpec,
    on: date,
    actor: str,
    now: datetime,
    with_sample: bool,
    segment_id: int | None = None,
) -> Preview:
    """Count ``spec`` now (and take a sample when ``with_sample``); writes the audit row."""
    stats = StreamStats()
    count, sample = await _count_and_sample(
        session,
        sealer=sealer,
        tenant_code=tenant_code,
        spec=spec,
        on=on,
        want_sample=with_sample,
        stats=stats,
    )
    shown = sample if with_sample and count >= SMALL_CELL else None
    detail: dict[str, Any] = {
        "on": on.isoformat(),
        "sample_shown": len(shown) if shown is not None else 0,
        "unreadable": stats.unreadable,
    }
    if segment_id is not None:
        detail["segment_id"] = segment_id
    else:
        detail["spec"] = spec.to_json()
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="segment.preview" if with_sample or segment_id is None else "segment.count",
        at=now,
        count=count,
        detail=detail,
    )
    return Preview(count, shown)
