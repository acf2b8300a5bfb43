"""The cursor feed: accepted notices in ``seq`` order, each with the hub's receipt, limited to
the notices whose ``area`` covers the reading subscriber's municipality.

Paging with a filter: the page scans ``after < seq <= last_seq`` (``last_seq`` read first, so
a page never mixes in notices committed while it is read) and returns the first ``first``
covered notices. ``scanned_to`` is the highest seq the page examined: the last returned seq
when more covered notices follow (``has_more``), else ``last_seq``. The node moves its cursor
to ``scanned_to``, so notices of other areas are skipped once and never re-read.

Fan-out: when a notice is published every subscriber reads the same short window
``(seq - 1, last_seq]`` within a second. A stored notice never changes and every seq up to
``last_seq`` is committed (the counter moves with the insert), so the rows of a window are the
same for every reader forever: ``FeedWindows`` (one per hub process) keeps the last few windows
of at most ``WINDOW_MAX_SPAN`` notices with their area codes, and a page is cut from one in
memory with exactly the rule of the SQL path (covered by ``covering_areas``, ``first`` of them,
``has_more``). Longer ranges (a node catching up) take the indexed SQL path as before.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.jws import SignedEnvelope
from hub.publishers.models import StoredNotice
from hub.subscribers.areas import areas_of_payload, covering_areas
from hub.subscribers.repository import FeedRepository

MAX_PAGE = 1000
WINDOW_MAX_SPAN = 256  # notices in one cached window
WINDOW_ENTRIES = 32  # cached windows per process


class FeedRequestError(Exception):
    """The caller asked for an impossible page (``message`` says why)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FeedItem:
    seq: int
    envelope: SignedEnvelope
    receipt: SignedEnvelope
    status: str
    expired: bool


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    last_seq: int
    scanned_to: int
    has_more: bool


def _expires_of(payload: str) -> datetime:
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return datetime.fromisoformat(json.loads(raw)["expires"])


def _item(row: StoredNotice, *, now: datetime) -> FeedItem:
    return FeedItem(
        seq=row.seq,
        envelope=SignedEnvelope(
            protected=row.protected, payload=row.payload, signature=row.signature
        ),
        receipt=SignedEnvelope(
            protected=row.receipt_protected,
            payload=row.receipt_payload,
            signature=row.receipt_signature,
        ),
        status=row.status,
        expired=_expires_of(row.payload) <= now,
    )


@dataclass(frozen=True)
class WindowRow:
    """One stored notice as the feed serves it, with its area codes and expiry."""

    seq: int
    envelope: SignedEnvelope
    receipt: SignedEnvelope
    status: str
    expires: datetime
    areas: frozenset[str]

    def item(self, *, now: datetime) -> FeedItem:
        return FeedItem(
            seq=self.seq,
            envelope=self.envelope,
            receipt=self.receipt,
            status=self.status,
            expired=self.expires <= now,
        )


WindowLoader = Callable[[], Awaitable[list[tuple[StoredNotice, list[str]]]]]


class FeedWindows:
    """Recently read windows ``(after, up_to]`` of the feed (bounded LRU, one per process;
    used from the event loop only). Safe to share: a window's rows never change. Concurrent
    readers of a window not cached yet wait for one load (single flight)."""

    def __init__(self, *, max_span: int = WINDOW_MAX_SPAN, entries: int = WINDOW_ENTRIES) -> None:
        self.max_span = max_span
        self.entries = entries
        self._windows: OrderedDict[tuple[int, int], tuple[WindowRow, ...]] = OrderedDict()
        self._loading: dict[tuple[int, int], asyncio.Future[tuple[WindowRow, ...]]] = {}
        self.hits = 0
        self.loads = 0

    def covers(self, *, after: int, up_to: int) -> bool:
        return up_to - after <= self.max_span

    async def rows(self, load: WindowLoader, *, after: int, up_to: int) -> tuple[WindowRow, ...]:
        """The rows of ``(after, up_to]``; ``load`` reads them when no one has yet."""
        if up_to <= after:
            return ()
        key = (after, up_to)
        cached = self._windows.get(key)
        if cached is not None:
            self._windows.move_to_end(key)
            self.hits += 1
            return cached
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(load, key))
            self._loading[key] = loading
        else:
            self.hits += 1
        return await asyncio.shield(loading)

    async def _load(self, load: WindowLoader, key: tuple[int, int]) -> tuple[WindowRow, ...]:
        self.loads += 1
        try:
            rows = tuple(_window_row(notice, areas) for notice, areas in await load())
        finally:
            del self._loading[key]
        self._windows[key] = rows
        while len(self._windows) > self.entries:
            self._windows.popitem(last=False)
        return rows


def _window_row(notice: StoredNotice, areas: list[str]) -> WindowRow:
    return WindowRow(
        seq=notice.seq,
        envelope=SignedEnvelope(
            protected=notice.protected, payload=notice.payload, signature=notice.signature
        ),
        receipt=SignedEnvelope(
            protected=notice.receipt_protected,
            payload=notice.receipt_payload,
            signature=notice.receipt_signature,
        ),
        status=notice.status,
        expires=_expires_of(notice.payload),
        areas=frozenset(areas),
    )


def page_of_window(
    rows: tuple[WindowRow, ...], *, municipality: str, first: int, last_seq: int, now: datetime
) -> FeedPage:
    """The page ``read_feed`` returns, cut from the rows of ``(after, last_seq]``."""
    areas = frozenset(covering_areas(municipality))
    items: list[FeedItem] = []
    has_more = False
    for row in rows:
        if row.areas.isdisjoint(areas):
            continue
        if len(items) == first:
            has_more = True
            break
        items.append(row.item(now=now))
    scanned_to = items[-1].seq if has_more else last_seq
    return FeedPage(items=items, last_seq=last_seq, scanned_to=scanned_to, has_more=has_more)


def check_page_request(*, after: int, first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise FeedRequestError(f"first must be between 1 and {MAX_PAGE} (got {first})")
    if after < 0:
        raise FeedRequestError(f"after must be 0 or more (got {after})")


async def read_feed(
    session: AsyncSession,
    *,
    municipality: str,
    after: int,
    first: int,
    now: datetime,
    last_seq: int | None = None,
    windows: FeedWindows | None = None,
) -> FeedPage:
    """Up to ``first`` (1..1000) notices covering ``municipality`` with ``seq > after``.

    ``last_seq``: the caller read it already (in this transaction); ``windows``: serve short
    ranges from this process's window cache."""
    check_page_request(after=after, first=first)
    repo = FeedRepository(session)
    if last_seq is None:
        last_seq = await repo.last_seq()
    if windows is not None and windows.covers(after=after, up_to=last_seq):
        up_to = last_seq
        rows = await windows.rows(
            lambda: repo.window(after=after, up_to=up_to), after=after, up_to=up_to
        )
        return page_of_window(
            rows, municipality=municipality, first=first, last_seq=last_seq, now=now
        )
    items: list[FeedItem] = []
    has_more = False
    async for row in repo.stream_after(
        after=after, up_to=last_seq, areas=covering_areas(municipality), limit=first + 1
    ):
        if len(items) == first:
            has_more = True
            break
        items.append(_item(row, now=now))
    scanned_to = items[-1].seq if has_more else last_seq
    return FeedPage(items=items, last_seq=last_seq, scanned_to=scanned_to, has_more=has_more)


async def index_notice_areas(session: AsyncSession, *, seq: int, payload: str) -> list[str]:
    """Record the area codes of a newly accepted notice (same transaction as its insert)."""
    areas = areas_of_payload(payload)
    await FeedRepository(session).add_areas(seq=seq, areas=areas)
    return areas
