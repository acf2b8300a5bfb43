"""Group commit (hub/publishers/batch.py, ``store_verified``): a batch is checked in order, each
notice against the database plus the ones accepted before it in the batch, with gap-free seqs;
concurrent publishes through the API share commits and still get every rule right."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from contracts.errors import RejectionCode
from contracts.verify import verify_receipt
from hub.publishers.batch import PublishBatcher
from hub.publishers.models import PublisherKey, StoredNotice
from hub.publishers.repository import PublisherRepository
from hub.publishers.schemas import (
    EnvelopeStrings,
    PublishAccepted,
    PublishRejected,
    PublishResult,
    VerifiedPublish,
)
from hub.publishers.sequencing import store_verified
from hub.publishers.service import verify_publish
from hub.state import HubState
from hub.subscribers.models import NoticeArea
from hub.subscribers.repository import FeedRepository
from tests.fixtures.database import backend
from tests.hub.helpers import (
    CFA_KID,
    NOW,
    ROOT_KEY,
    ROOT_KID,
    HubApi,
    follow_up,
    make_notice,
    signed,
)


def strings(notice: dict[str, Any]) -> EnvelopeStrings:
    envelope = signed(notice)
    return EnvelopeStrings(envelope.protected, envelope.payload, envelope.signature)


async def store_batch(state: HubState, notices: list[EnvelopeStrings]) -> list[PublishResult]:
    async with state.transaction() as session:
        items = []
        for envelope in notices:
            checked = await verify_publish(session, envelope=envelope, now=NOW)
            assert isinstance(checked, VerifiedPublish), checked
            items.append(checked)
        return await store_verified(session, items, identity=state.identity)


async def test_a_batch_sees_its_own_earlier_notices(registered: HubState) -> None:
    alert = make_notice()
    alert_envelope = signed(alert)
    update = follow_up(alert, alert_envelope)
    other = make_notice()
    equivocating = make_notice(notice_id=other["notice_id"], document_id=other["document_id"])
    equivocating["content"]["ja"]["headline"] = "別の内容"
    stale = follow_up(alert, alert_envelope)  # a second revision 2 of the same document
    alert_strings = EnvelopeStrings(
        alert_envelope.protected, alert_envelope.payload, alert_envelope.signature
    )
    results = await store_batch(
        registered,
        [
            alert_strings,
            strings(update),
            strings(other),
            alert_strings,  # the same envelope again: a duplicate of the first
            strings(equivocating),
            strings(stale),
        ],
    )
    first, second, third, duplicate, equivocation, stale_result = results
    assert isinstance(first, PublishAccepted) and first.seq == 1
    assert isinstance(second, PublishAccepted) and second.seq == 2 and not second.duplicate
    assert isinstance(third, PublishAccepted) and third.seq == 3
    assert isinstance(duplicate, PublishAccepted)
    assert duplicate.duplicate and duplicate.seq == 1
    assert isinstance(equivocation, PublishRejected)
    assert equivocation.code is RejectionCode.EQUIVOCATION
    assert isinstance(stale_result, PublishRejected)
    assert stale_result.code is RejectionCode.STALE_REVISION
    async with registered.transaction() as session:
        repo = PublisherRepository(session)
        assert await repo.count_notices() == 3
        assert await FeedRepository(session).last_seq() == 3
        assert len(await repo.list_alarms()) == 1
    for result in (first, second, third):
        assert isinstance(result, PublishAccepted)
        receipt = verify_receipt(result.receipt, root_keys={ROOT_KID: ROOT_KEY.public_key()})
        assert receipt.seq == result.seq


async def test_a_batch_continues_after_earlier_batches(registered: HubState) -> None:
    await store_batch(registered, [strings(make_notice()), strings(make_notice())])
    [result] = await store_batch(registered, [strings(make_notice())])
    assert isinstance(result, PublishAccepted) and result.seq == 3


async def test_the_batcher_groups_concurrent_publishes(registered: HubState) -> None:
    batcher = PublishBatcher(max_batch=8)
    notices = [strings(make_notice()) for _ in range(20)]
    bad = EnvelopeStrings(notices[0].protected, notices[0].payload, "A" * 86)
    results = await asyncio.gather(*(batcher.publish(registered, n) for n in [*notices, bad]))
    seqs = sorted(r.seq for r in results if isinstance(r, PublishAccepted))
    assert seqs == list(range(1, 21))
    assert isinstance(results[-1], PublishRejected)
    assert results[-1].code is RejectionCode.BAD_SIGNATURE
    assert batcher.stored == 20
    assert 3 <= batcher.batches < 21  # shared commits, at most 8 per batch
    async with registered.transaction() as session:
        repo = FeedRepository(session)
        assert await repo.last_seq() == 20
        assert await repo.areas_of(20) == ["00"]


async def test_concurrent_publishes_through_the_api_are_gap_free(
    app: FastAPI, api: HubApi, registered: HubState
) -> None:
    envelopes = [signed(make_notice()) for _ in range(30)]
    answers = await asyncio.gather(*(api.publish(envelope) for envelope in envelopes))
    assert sorted(answer["seq"] for answer in answers) == list(range(1, 31))
    assert all(answer["__typename"] == "PublishAccepted" for answer in answers)
    again = await asyncio.gather(*(api.publish(envelope) for envelope in envelopes[:5]))
    assert [a["seq"] for a in again] == [a["seq"] for a in answers[:5]]
    assert all(a["duplicate"] for a in again)
    page = await api.feed(after=0, first=100)
    assert [item["seq"] for item in page["items"]] == list(range(1, 31))
    assert isinstance(app.state.publish_batcher, PublishBatcher)


class HeldKeyQuery:
    """Holds a batch in its key query (a slow database) until released; ``before`` runs in
    the batch's session first (e.g. a revocation committed meanwhile by another process)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.released = asyncio.Event()
        self.entered = asyncio.Event()
        self.before: Callable[[PublisherRepository], Awaitable[None]] | None = None
        original = PublisherRepository.get_keys

        async def get_keys(repo: PublisherRepository, kids: Any) -> Any:
            self.entered.set()
            await self.released.wait()
            if self.before is not None:
                await self.before(repo)
            return await original(repo, kids)

        monkeypatch.setattr(PublisherRepository, "get_keys", get_keys)


async def batcher_knowing_the_key(
    registered: HubState, monkeypatch: pytest.MonkeyPatch
) -> tuple[PublishBatcher, HeldKeyQuery]:
    """A batcher that stored one notice (so it has cached the key), with the key query held."""
    batcher = PublishBatcher()
    held = HeldKeyQuery(monkeypatch)
    held.released.set()
    assert isinstance(await batcher.publish(registered, strings(make_notice())), PublishAccepted)
    return batcher, held


async def publish_during_a_held_batch(
    registered: HubState, batcher: PublishBatcher, held: HeldKeyQuery
) -> PublishResult:
    """A first publish's batch waits in its key query; a second publish arrives meanwhile."""
    held.released.clear()
    held.entered.clear()
    first = asyncio.ensure_future(batcher.publish(registered, strings(make_notice())))
    await held.entered.wait()
    second = asyncio.ensure_future(batcher.publish(registered, strings(make_notice())))
    for _ in range(5):
        await asyncio.sleep(0)
    held.released.set()
    assert isinstance(await first, PublishAccepted)
    return await second


async def test_arrivals_are_verified_while_a_batch_waits_and_kept_if_the_key_is_unchanged(
    registered: HubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher, held = await batcher_knowing_the_key(registered, monkeypatch)
    assert batcher.verified_early == 0  # nothing waited: verified in its own batch
    second = await publish_during_a_held_batch(registered, batcher, held)
    assert isinstance(second, PublishAccepted) and second.seq == 3
    assert batcher.verified_early == 1  # the cached key, confirmed unchanged by its batch


async def test_a_revocation_overrules_an_early_verification_with_the_cached_key(
    registered: HubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher, held = await batcher_knowing_the_key(registered, monkeypatch)
    calls = 0

    async def revoke_before_the_second_batch(repo: PublisherRepository) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # `todoke hub revoke-key`, after the early verification
            assert await repo.set_key_revoked(CFA_KID, NOW)

    held.before = revoke_before_the_second_batch
    result = await publish_during_a_held_batch(registered, batcher, held)
    assert calls == 2
    assert isinstance(result, PublishRejected), result
    assert result.code is RejectionCode.KEY_REVOKED
    assert batcher.verified_early == 0
    async with registered.transaction() as session:
        assert await PublisherRepository(session).count_notices() == 2
    entry = batcher.keys.get(CFA_KID)  # the cache holds the revoked row now
    assert entry is not None and entry.key.revoked_at == NOW


async def test_an_unknown_kid_is_refused_and_forgotten(registered: HubState) -> None:
    batcher = PublishBatcher()
    assert isinstance(await batcher.publish(registered, strings(make_notice())), PublishAccepted)
    async with registered.transaction() as session:  # no CLI deletes keys; the cache copes
        await session.execute(sa.delete(NoticeArea))
        await session.execute(sa.delete(StoredNotice))
        await session.execute(sa.delete(PublisherKey).where(PublisherKey.kid == CFA_KID))
    result = await batcher.publish(registered, strings(make_notice()))
    assert isinstance(result, PublishRejected) and result.code is RejectionCode.UNKNOWN_KEY
    assert batcher.keys.get(CFA_KID) is None


@pytest.mark.skipif(backend() != "postgresql", reason="another transaction commits meanwhile")
async def test_a_notice_committed_between_plan_and_lock_makes_the_batch_store_again_lock_first(
    registered: HubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch planned the envelope as new; another replica stores the same envelope before
    this batch takes the lock: the guarded write refuses, and the lock-first retry answers the
    duplicate with the other replica's seq — one row, no gap."""
    envelope = strings(make_notice())
    original = PublisherRepository.lock_sequence
    calls = 0

    async def other_replica_first(repo: PublisherRepository) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            async with registered.transaction() as session:
                checked = await verify_publish(session, envelope=envelope, now=NOW)
                assert isinstance(checked, VerifiedPublish)
                [stored] = await store_verified(session, [checked], identity=registered.identity)
                assert isinstance(stored, PublishAccepted) and stored.seq == 1
        return await original(repo)

    monkeypatch.setattr(PublisherRepository, "lock_sequence", other_replica_first)
    batcher = PublishBatcher()
    result = await batcher.publish(registered, envelope)
    assert batcher.conflicts == 1
    assert isinstance(result, PublishAccepted)
    assert (result.seq, result.duplicate) == (1, True)
    async with registered.transaction() as session:
        assert await PublisherRepository(session).count_notices() == 1
        assert await FeedRepository(session).last_seq() == 1
