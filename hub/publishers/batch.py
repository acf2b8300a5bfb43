"""Group commit of ``publishNotice``: concurrent publishes share one storing transaction.

Storing a notice holds the sequence row lock from the lifecycle checks to the commit (that is
what keeps ``seq`` gap-free and the lifecycle rules race-free), so one transaction per notice
caps a hub at one commit round trip per notice. ``PublishBatcher`` (one per hub process, used
from the event loop only):

1. queues each received envelope with its arrival time; while a batch is being stored the
   queue fills, and the next batch (at most ``max_batch``) is handled in one transaction on
   one connection (a request holds none: with a connection per request, concurrent
   publishers overflowed the pool and every publish paid a new database connection);
2. while a batch waits for the database outside the lock (its key query, the sequence lock
   held by another replica), verifies the arrivals waiting for the next batch whose key this
   process knows (``KeyCache``): the CPU work fills time that was idle, and none of it runs
   between the statements of a batch holding the lock;
3. in the batch's transaction reads the batch's keys in one query, keeps an early
   verification only if its key row is unchanged (else — a revocation, a first-seen kid,
   any failure — verifies again with the row just read, while its lock request is on the
   way), then ``sequence_verified`` checks the verified ones in arrival order, each against
   the database plus the notices accepted before it in the batch, and gives the accepted
   ones consecutive seqs and receipts, and ``write_batch`` stores them with their areas and
   NOTIFY — one lock, one commit;
4. answers each request with its own result once the batch committed (then, on SQLite, wakes
   this process's live subscribers).

Under no concurrency a batch is a single notice, exactly as before. If storing a batch fails
unexpectedly (the database went away) every request of that batch gets the error and nothing
of it is stored.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from hub.publishers.batch_write import WriteConflict, WriteGuard, write_batch
from hub.publishers.lifecycle import LifecycleView, plan_batch
from hub.publishers.repository import PublisherRepository
from hub.publishers.schemas import (
    EnvelopeStrings,
    PublishRejected,
    PublishResult,
    VerifiedPublish,
)
from hub.publishers.sequencing import SequencedBatch, assign, new_row, sequence_verified
from hub.publishers.service import (
    header_kid,
    signed_envelope,
    verify_envelope,
)
from hub.publishers.trust import CachedKey, CacheLookup, KeyCache, RegistryKeyLookup
from hub.state import HubState

DEFAULT_MAX_BATCH = 100
EARLY_SLICE_SECONDS = 0.0005
T = TypeVar("T")


def app_batcher(app_state: Any) -> PublishBatcher:
    """The app's batcher (kept on ``app.state``; made on first use)."""
    batcher = getattr(app_state, "publish_batcher", None)
    if not isinstance(batcher, PublishBatcher):
        batcher = PublishBatcher()
        app_state.publish_batcher = batcher
    return batcher


@dataclass
class _Received:
    envelope: EnvelopeStrings
    now: datetime
    future: asyncio.Future[PublishResult]
    early: VerifiedPublish | None = None  # verified while waiting …
    key_used: CachedKey | None = None  # … with this cache entry
    taken: bool = False  # in a batch: verified there if not early


@dataclass
class PublishBatcher:
    max_batch: int = DEFAULT_MAX_BATCH
    keys: KeyCache = field(default_factory=KeyCache)
    _queue: list[_Received] = field(default_factory=list)
    _untried: deque[_Received] = field(default_factory=deque)
    _arrival: asyncio.Future[None] | None = None  # resolved by the next arrival
    _runner: asyncio.Task[None] | None = None
    batches: int = 0
    stored: int = 0
    verified_early: int = 0
    conflicts: int = 0  # batches stored again lock-first (``WriteConflict``)

    async def publish(self, hub: HubState, envelope: EnvelopeStrings) -> PublishResult:
        [item] = self._enqueue(hub, [envelope])
        # shielded: a caller that goes away does not cancel the others' batch
        return await asyncio.shield(item.future)

    async def publish_many(
        self, hub: HubState, envelopes: Sequence[EnvelopeStrings]
    ) -> list[PublishResult]:
        """Queue envelopes in this order (one request's fields) and wait for all results."""
        if len(envelopes) == 1:
            return [await self.publish(hub, envelopes[0])]
        waiter = asyncio.gather(*(item.future for item in self._enqueue(hub, envelopes)))
        # retrieved even if the caller went away before a failure
        waiter.add_done_callback(lambda done: done.cancelled() or done.exception())
        return list(await asyncio.shield(waiter))

    def _enqueue(self, hub: HubState, envelopes: Sequence[EnvelopeStrings]) -> list[_Received]:
        loop = asyncio.get_running_loop()
        items = [
            _Received(envelope, hub.clock.now(), loop.create_future()) for envelope in envelopes
        ]
        self._queue.extend(items)
        self._untried.extend(items)
        if self._arrival is not None and not self._arrival.done():
            self._arrival.set_result(None)
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(hub))
        return items

    def _verify_early(self, item: _Received) -> None:
        """Verify with the cached key. Only a success is kept, and only until ``_store``
        confirms the key row unchanged; everything else is verified again there."""
        lookup = CacheLookup(self.keys)
        checked = verify_envelope(item.envelope, keys=lookup, now=item.now)
        if isinstance(checked, VerifiedPublish) and lookup.used is not None:
            item.early, item.key_used = checked, lookup.used

    def _drop_taken(self) -> None:
        """Forget arrivals a batch has taken (the oldest: both lists are in arrival order)."""
        while self._untried and self._untried[0].taken:
            self._untried.popleft()

    async def _meanwhile(self, pending: asyncio.Future[T]) -> T:
        """Await ``pending`` (a database round trip of the batch being stored: the key query,
        the wait for the sequence lock), verifying waiting arrivals one at a time until it is
        done. Verification thus fills time this process would spend idle, and never runs
        between the statements of a batch that holds the lock."""
        try:
            while not pending.done():
                self._drop_taken()
                if self._untried:
                    # a slice of work between looks at the event loop (each look is a syscall)
                    until = time.perf_counter() + EARLY_SLICE_SECONDS
                    while self._untried and time.perf_counter() < until:
                        item = self._untried.popleft()
                        if not item.taken:
                            self._verify_early(item)
                    await asyncio.sleep(0)
                    continue
                self._arrival = asyncio.get_running_loop().create_future()
                await asyncio.wait((pending, self._arrival), return_when=asyncio.FIRST_COMPLETED)
            return pending.result()
        finally:
            self._arrival = None
            if not pending.done():
                pending.cancel()

    async def _run(self, hub: HubState) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                for item in batch:
                    item.taken = True
                self._drop_taken()
                self.batches += 1
                try:
                    results, woken = await self._store(hub, batch)
                except Exception as exc:
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                            item.future.exception()  # the caller may be gone: mark it retrieved
                    continue
                for seq, areas in woken:  # committed: SQLite wakes this process's subscribers
                    hub.fanout.committed(seq=seq, areas=areas)
                for item, result in zip(batch, results, strict=True):
                    if not item.future.done():
                        item.future.set_result(result)
        finally:
            self._runner = None

    async def _store(
        self, hub: HubState, batch: list[_Received]
    ) -> tuple[list[PublishResult], list[tuple[int, list[str]]]]:
        try:
            return await self._store_once(hub, batch, plan_first=True)
        except WriteConflict:  # rolled back: a notice committed meanwhile touches this batch
            self.conflicts += 1
            return await self._store_once(hub, batch, plan_first=False)

    async def _store_once(
        self, hub: HubState, batch: list[_Received], *, plan_first: bool
    ) -> tuple[list[PublishResult], list[tuple[int, list[str]]]]:
        sequenced: SequencedBatch | None = None
        async with hub.transaction() as session:
            repo = PublisherRepository(session)
            # the batch's keys as they are now, in one query; the cache follows the registry
            kids = {
                kid
                for kid in (
                    item.early.verified.kid if item.early else header_kid_of(item) for item in batch
                )
                if kid is not None
            }
            rows = await self._meanwhile(asyncio.ensure_future(repo.get_keys(kids)))
            current = {kid: self.keys.refresh(kid, rows.get(kid)) for kid in kids}
            lookup = RegistryKeyLookup(
                {kid: entry.key for kid, entry in current.items() if entry is not None}
            )
            checked: list[VerifiedPublish | PublishRejected] = []
            for item in batch:
                if item.early is not None and current.get(item.early.verified.kid) is item.key_used:
                    self.verified_early += 1
                    checked.append(item.early)
                else:
                    checked.append(verify_envelope(item.envelope, keys=lookup, now=item.now))
            verified = [item for item in checked if isinstance(item, VerifiedPublish)]
            if verified:
                if plan_first:  # plan on one snapshot, lock, write if the plan still holds
                    view = LifecycleView(repo)
                    seen = await view.prefetch(verified)
                    plans = await plan_batch(view, verified, new_row=new_row)
                    locked = await self._meanwhile(asyncio.ensure_future(repo.lock_sequence()))
                    guard = WriteGuard(
                        seen_seq=seen,
                        locked_seq=locked,
                        notice_ids=frozenset(view.touched_ids),
                        document_ids=frozenset(view.touched_documents),
                    )
                    sequenced = assign(plans, last_seq=locked, identity=hub.identity)
                else:
                    locked = await self._meanwhile(asyncio.ensure_future(repo.lock_sequence()))
                    sequenced = await sequence_verified(
                        session, verified, identity=hub.identity, locked_seq=locked
                    )
                    guard = WriteGuard.locked_first(locked)
                await write_batch(session, sequenced, guard=guard)
        outcomes = iter(sequenced.results if sequenced is not None else ())
        results: list[PublishResult] = [
            next(outcomes) if isinstance(item, VerifiedPublish) else item for item in checked
        ]
        new_rows = sequenced.rows if sequenced is not None else []
        self.stored += len(new_rows)
        return results, [(row.seq, row.areas) for row in new_rows]


def header_kid_of(item: _Received) -> str | None:
    return header_kid(signed_envelope(item.envelope))
