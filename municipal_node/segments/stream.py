"""Streaming a segment: pages of recipients, in ``user_id`` order, resumable with ``after``.

Each page is one SQL statement (``repository.recipient_page``). When the spec has sealed
criteria, the page's blobs are opened and matched in a worker thread (the event loop keeps
serving) while nothing else is held: memory is one page, whatever the segment's size. A spec
without sealed criteria is pure SQL and decrypts nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.crypto import Sealer
from municipal_node.segments import repository
from municipal_node.segments.match import Row, SealedMatcher
from municipal_node.segments.spec import SegmentSpec

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 5000


@dataclass(frozen=True)
class Recipient:
    user_id: str
    #: household types for aggregate counts; () if unknown/unlinked (or not decrypted)
    household: tuple[str, ...]


class Match(NamedTuple):
    """A recipient with what staff previews may show (resident id and district if linked)."""

    user_id: str
    resident_id: str | None
    district: str | None
    household: tuple[str, ...]


@dataclass
class StreamStats:
    """What a stream did (for logs, audits and tests): rows read, blobs opened, unreadable."""

    scanned: int = 0
    decrypted: int = 0
    unreadable: int = 0
    pages: int = 0
    matched: int = 0
    #: the last user_id read from SQL (resume point when the stream stops early)
    last_user_id: str | None = field(default=None)


def _match_page(
    sealer: Sealer, matcher: SealedMatcher, rows: list[Row]
) -> tuple[list[Match], int, int]:
    matched: list[Match] = []
    decrypted = unreadable = 0
    for row in rows:
        verdict = matcher.verdict(sealer, row)
        decrypted += verdict.decrypted
        unreadable += verdict.unreadable
        if verdict.matched:
            matched.append(Match(row.user_id, row.resident_id, row.district, verdict.household))
    return matched, decrypted, unreadable


async def stream_matches(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    spec: SegmentSpec,
    on: date,
    after: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    details: bool = False,
    stats: StreamStats | None = None,
) -> AsyncIterator[list[Match]]:
    """Non-empty pages of matches (≤ ``page_size`` each), ``user_id`` ascending, after
    ``after`` (exclusive). ``details`` also reads resident id and district."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    stats = stats if stats is not None else StreamStats()
    matcher = (
        SealedMatcher.build(spec, tenant_code=tenant_code, on=on)
        if spec.has_sealed_criteria
        else None
    )
    unreadable_before = stats.unreadable
    await repository.ensure_statistics(session)
    while True:
        rows = await repository.recipient_page(
            session,
            tenant_code=tenant_code,
            spec=spec,
            after=after,
            limit=page_size,
            details=details,
        )
        if not rows:
            break
        after = rows[-1].user_id
        stats.pages += 1
        stats.scanned += len(rows)
        stats.last_user_id = after
        if matcher is None:
            page = [Match(row.user_id, row.resident_id, row.district, ()) for row in rows]
        else:
            page, decrypted, unreadable = await asyncio.to_thread(
                _match_page, sealer, matcher, rows
            )
            stats.decrypted += decrypted
            stats.unreadable += unreadable
        stats.matched += len(page)
        if page:
            yield page
        if len(rows) < page_size:
            break
    if stats.unreadable > unreadable_before:
        log.error(
            "tenant %s: %d sealed record(s) could not be decrypted and were left out of a "
            "segment (wrong encryption key?)",
            tenant_code,
            stats.unreadable - unreadable_before,
        )


async def stream_recipients(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    spec: SegmentSpec,
    on: date,
    after: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    stats: StreamStats | None = None,
) -> AsyncIterator[list[Recipient]]:
    """Pages of ``Recipient`` (see ``stream_matches``): current friends, never ``stopped``,
    matching ``spec`` on date ``on`` (children's ages and grades)."""
    if spec.has_sealed_criteria:
        async for page in stream_matches(
            session,
            sealer=sealer,
            tenant_code=tenant_code,
            spec=spec,
            on=on,
            after=after,
            page_size=page_size,
            stats=stats,
        ):
            yield [Recipient(match.user_id, match.household) for match in page]
        return
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    stats = stats if stats is not None else StreamStats()
    await repository.ensure_statistics(session)
    while True:  # pure SQL: ids only, nothing decrypted
        ids = await repository.user_id_page(
            session, tenant_code=tenant_code, spec=spec, after=after, limit=page_size
        )
        if not ids:
            return
        after = ids[-1]
        stats.pages += 1
        stats.scanned += len(ids)
        stats.matched += len(ids)
        stats.last_user_id = after
        yield [Recipient(user_id, ()) for user_id in ids]
        if len(ids) < page_size:
            return


async def stream_user_ids(
    session: AsyncSession,
    *,
    tenant_code: str,
    spec: SegmentSpec,
    after: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> AsyncIterator[list[str]]:
    """Pages of user ids of a spec WITHOUT sealed criteria (nothing to decrypt, household
    unknown for everyone): the planner's path for a send to a whole city, where building one
    ``Recipient`` per friend would cost more than the query."""
    if spec.has_sealed_criteria:
        raise ValueError("a spec with sealed criteria is streamed with stream_recipients")
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    await repository.ensure_statistics(session)
    while True:
        ids = await repository.user_ids_joined_page(
            session, tenant_code=tenant_code, spec=spec, after=after, limit=page_size
        )
        if not ids:
            return
        after = ids[-1]
        yield ids
        if len(ids) < page_size:
            return


async def count_recipients(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    spec: SegmentSpec,
    on: date,
    page_size: int = DEFAULT_PAGE_SIZE,
    stats: StreamStats | None = None,
) -> int:
    """How many recipients ``spec`` has now: one COUNT(*) without sealed criteria, else a
    streamed count (nothing kept but the number)."""
    if not spec.has_sealed_criteria:
        return await repository.count_without_sealed(session, tenant_code=tenant_code, spec=spec)
    total = 0
    async for page in stream_matches(
        session,
        sealer=sealer,
        tenant_code=tenant_code,
        spec=spec,
        on=on,
        page_size=page_size,
        stats=stats,
    ):
        total += len(page)
    return total
