"""The cursor feed: accepted notices in ``seq`` order, each with the hub's receipt."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.jws import SignedEnvelope
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


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    last_seq: int
    has_more: bool


async def read_feed(session: AsyncSession, *, after: int, first: int) -> FeedPage:
    """Up to ``first`` (1..1000) notices with ``seq > after``; ``last_seq`` is the hub's highest."""
    if not 1 <= first <= MAX_PAGE:
        raise FeedRequestError(f"first must be between 1 and {MAX_PAGE} (got {first})")
    if after < 0:
        raise FeedRequestError(f"after must be 0 or more (got {after})")
    repo = FeedRepository(session)
    last_seq = await repo.last_seq()
    items: list[FeedItem] = []
    has_more = False
    async for row in repo.stream_after(after=after, limit=first + 1):
        if len(items) == first:
            has_more = True
            break
        items.append(
            FeedItem(
                seq=row.seq,
                envelope=SignedEnvelope(
                    protected=row.protected, payload=row.payload, signature=row.signature
                ),
                receipt=SignedEnvelope(
                    protected=row.receipt_protected,
                    payload=row.receipt_payload,
                    signature=row.receipt_signature,
                ),
            )
        )
    if items:
        last_seq = max(last_seq, items[-1].seq)
    return FeedPage(items=items, last_seq=last_seq, has_more=has_more)
