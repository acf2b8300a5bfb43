"""Shared checks of the key and notice lifecycle tests: a rejection stores and feeds nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from contracts.jws import SignedEnvelope
from hub.publishers.models import SEQUENCE_ROW_ID, NoticeSequence, StoredNotice
from hub.state import HubState
from tests.hub.helpers import HubApi


async def hub_totals(state: HubState) -> tuple[int, int]:
    """(stored notices, the feed's lastSeq: the seq counter the feed reports)."""
    async with state.transaction() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(StoredNotice))
        last_seq = await session.scalar(
            sa.select(NoticeSequence.last_seq).where(NoticeSequence.id == SEQUENCE_ROW_ID)
        )
    return int(count or 0), int(last_seq or 0)


async def assert_refused(
    api: HubApi, state: HubState, envelope: SignedEnvelope, code: str
) -> dict[str, Any]:
    """Publish through GraphQL: rejected with ``code``, nothing stored (notices count), nothing
    fed (the seq counter the feed reports as lastSeq, and the feed page itself)."""
    before = await hub_totals(state)
    feed_before = await api.feed()  # as subscriber 23235, which area 00 and 23 cover
    result = await api.publish(envelope)
    assert result["__typename"] == "PublishRejected", result
    assert result["code"] == code, result
    assert result["message"]
    assert await hub_totals(state) == before
    assert await api.feed() == feed_before
    return result


async def assert_accepted(api: HubApi, envelope: SignedEnvelope) -> dict[str, Any]:
    result = await api.publish(envelope)
    assert result["__typename"] == "PublishAccepted", result
    assert result["duplicate"] is False
    return result
