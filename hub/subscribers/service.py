"""The cursor feed: accepted notices in ``seq`` order, each with the hub's receipt, limited to
the notices whose ``area`` covers the reading subscriber's municipality.

Paging with a filter: the page scans ``after < seq <= last_seq`` (``last_seq`` read first, so
a page never mixes in notices committed while it is read) and returns the first ``first``
covered notices. ``scanned_to`` is the highest seq the page examined: the last returned seq
when more covered notices follow (``has_more``), else ``last_seq``. The node moves its cursor
to ``scanned_to``, so notices of other areas are skipped once and never re-read.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.jws import SignedEnvelope
from hub.publishers.models import StoredNotice
from hub.subscribers.areas import areas_of_payload, covering_areas
from hub.subscribers.repository import FeedRepository

MAX_PAGE = 1000


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


async def read_feed(
    session: AsyncSession, *, municipality: str, after: int, first: int, now: datetime
) -> FeedPage:
    """Up to ``first`` (1..1000) notices covering ``municipality`` with ``seq > after``."""
    if not 1 <= first <= MAX_PAGE:
        raise FeedRequestError(f"first must be between 1 and {MAX_PAGE} (got {first})")
    if after < 0:
        raise FeedRequestError(f"after must be 0 or more (got {after})")
    repo = FeedRepository(session)
    last_seq = await repo.last_seq()
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
