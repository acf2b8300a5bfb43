"""Where a job's recipients come from, page by page in ``user_id`` order (resumable with
``after``), minus the applicants of the job's ``exclude_campaign_id`` (campaign reminders).

- a ``SegmentSpec`` (the usual case): ``segments.stream_recipients``;
- ``{"source": "trigger_fires", "fire_key": K}`` (date triggers): the LINE users of the
  residents whose trigger fired under ``K`` (table ``trigger_fires``).

Applicants are dropped here at planning time; ``sender.BatchSender.prepare`` drops those who
applied after planning, right before each request, so the reminder never reaches anyone who
applied before it was sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.applications.repository import applied_user_ids
from municipal_node.crypto import Sealer
from municipal_node.segments import SegmentSpec, stream_recipients
from municipal_node.segments.stream import stream_user_ids

TRIGGER_FIRES = "trigger_fires"

_FIRES_PAGE = text(
    "SELECT line_user_id FROM trigger_fires WHERE tenant_code = :tenant AND fire_key = :key "
    "AND line_user_id > :after ORDER BY line_user_id LIMIT :limit"
)


def is_trigger_source(spec: dict[str, Any]) -> bool:
    return spec.get("source") == TRIGGER_FIRES


@dataclass(frozen=True, slots=True)
class Page:
    """Recipients in ``user_id`` order; ``households`` parallel to ``user_ids``, or None when
    nobody's household is known (nothing decrypted: a segment without sealed criteria)."""

    user_ids: list[str]
    households: list[tuple[str, ...]] | None = None

    def without(self, drop: set[str]) -> Page:
        if self.households is None:
            return Page([u for u in self.user_ids if u not in drop])
        kept = [
            (u, h) for u, h in zip(self.user_ids, self.households, strict=True) if u not in drop
        ]
        return Page([u for u, _ in kept], [h for _, h in kept])


async def _fired(
    session: AsyncSession, *, tenant_code: str, fire_key: str, after: str | None, page_size: int
) -> AsyncIterator[Page]:
    cursor = after or ""
    while True:
        ids = list(
            await session.scalars(
                _FIRES_PAGE,
                {"tenant": tenant_code, "key": fire_key, "after": cursor, "limit": page_size},
            )
        )
        if not ids:
            return
        cursor = ids[-1]
        yield Page(ids)
        if len(ids) < page_size:
            return


async def _segment(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    spec: SegmentSpec,
    on: date,
    after: str | None,
    page_size: int,
) -> AsyncIterator[Page]:
    if not spec.has_sealed_criteria:
        async for ids in stream_user_ids(
            session, tenant_code=tenant_code, spec=spec, after=after, page_size=page_size
        ):
            yield Page(ids)
        return
    async for page in stream_recipients(
        session,
        sealer=sealer,
        tenant_code=tenant_code,
        spec=spec,
        on=on,
        after=after,
        page_size=page_size,
    ):
        yield Page([r.user_id for r in page], [r.household for r in page])


async def recipient_pages(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    spec: dict[str, Any],
    on: date,
    after: str | None,
    page_size: int,
    exclude_campaign_id: int | None = None,
) -> AsyncIterator[Page]:
    """Non-empty pages of recipients; see the module docstring. A page may be shorter than
    ``page_size`` (applicants removed); the stream ends when its source does."""
    pages: AsyncIterator[Page]
    if is_trigger_source(spec):
        fire_key = spec.get("fire_key")
        if not isinstance(fire_key, str) or not fire_key:
            raise LookupError(f"a trigger_fires job needs a fire_key, got {fire_key!r}")
        pages = _fired(
            session, tenant_code=tenant_code, fire_key=fire_key, after=after, page_size=page_size
        )
    else:
        pages = _segment(
            session,
            sealer=sealer,
            tenant_code=tenant_code,
            spec=SegmentSpec.from_json(spec),
            on=on,
            after=after,
            page_size=page_size,
        )
    async for page in pages:
        if exclude_campaign_id is not None and page.user_ids:
            applied = await applied_user_ids(
                session, tenant_code, exclude_campaign_id, page.user_ids
            )
            if applied:
                page = page.without(applied)
        if page.user_ids:
            yield page
