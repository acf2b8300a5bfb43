"""Group commit of ``publishNotice``: concurrent publishes share one storing transaction.

Storing a notice holds the sequence row lock from the lifecycle checks to the commit (that is
what keeps ``seq`` gap-free and the lifecycle rules race-free), so one transaction per notice
caps a hub at one commit round trip per notice. ``PublishBatcher`` (one per hub process, used
from the event loop only):

1. queues each received envelope with its arrival time; while a batch is being stored the
   queue fills, and the next batch (at most ``max_batch``) is handled in one transaction on
   one connection (a request holds none: with a connection per request, concurrent
   publishers overflowed the pool and every publish paid a new database connection);
2. verifies each envelope (``verify_publish``: the signing keys are read in that
   transaction, once per kid), then ``store_verified`` checks the verified ones in arrival
   order, each against the database plus the notices accepted before it in the batch, gives
   the accepted ones consecutive seqs, indexes their areas and queues their NOTIFY — one
   lock, one commit;
3. answers each request with its own result once the batch committed (then, on SQLite, wakes
   this process's live subscribers).

Under no concurrency a batch is a single notice, exactly as before. If storing a batch fails
unexpectedly (the database went away) every request of that batch gets the error and nothing
of it is stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.verify import TrustedKey
from hub.publishers.schemas import EnvelopeStrings, PublishAccepted, PublishResult
from hub.publishers.service import VerifiedPublish, store_verified, verify_publish
from hub.state import HubState
from hub.subscribers.service import index_notices_areas

DEFAULT_MAX_BATCH = 100


def app_batcher(app_state: Any) -> PublishBatcher:
    """The app's batcher (kept on ``app.state``; made on first use)."""
    batcher = getattr(app_state, "publish_batcher", None)
    if not isinstance(batcher, PublishBatcher):
        batcher = PublishBatcher()
        app_state.publish_batcher = batcher
    return batcher


@dataclass
class PublishBatcher:
    max_batch: int = DEFAULT_MAX_BATCH
    _queue: list[tuple[EnvelopeStrings, datetime, asyncio.Future[PublishResult]]] = field(
        default_factory=list
    )
    _runner: asyncio.Task[None] | None = None
    batches: int = 0
    stored: int = 0

    async def publish(self, hub: HubState, envelope: EnvelopeStrings) -> PublishResult:
        future: asyncio.Future[PublishResult] = asyncio.get_running_loop().create_future()
        self._queue.append((envelope, hub.clock.now(), future))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(hub))
        # shielded: a caller that goes away does not cancel the others' batch
        return await asyncio.shield(future)

    async def _run(self, hub: HubState) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                self.batches += 1
                try:
                    results, woken = await self._store(hub, [(e, now) for e, now, _ in batch])
                except Exception as exc:
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                            future.exception()  # the caller may be gone: mark it retrieved
                    continue
                for seq, areas in woken:  # committed: SQLite wakes this process's subscribers
                    hub.fanout.committed(seq=seq, areas=areas)
                for (_, _, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._runner = None

    async def _store(
        self, hub: HubState, received: list[tuple[EnvelopeStrings, datetime]]
    ) -> tuple[list[PublishResult], list[tuple[int, list[str]]]]:
        async with hub.transaction() as session:
            known_keys: dict[str, TrustedKey | None] = {}  # each kid read once per batch
            checked = [
                await verify_publish(session, envelope=envelope, now=now, known_keys=known_keys)
                for envelope, now in received
            ]
            verified = [item for item in checked if isinstance(item, VerifiedPublish)]
            stored = iter(await store_verified(session, verified, identity=hub.identity))
            results: list[PublishResult] = [
                next(stored) if isinstance(item, VerifiedPublish) else item for item in checked
            ]
            new = [
                (result.seq, item.envelope.payload)
                for item, result in zip(checked, results, strict=True)
                if isinstance(item, VerifiedPublish)
                and isinstance(result, PublishAccepted)
                and not result.duplicate
            ]
            areas = await index_notices_areas(session, new)
            await hub.fanout.in_transaction_many(
                session, notices=[(seq, areas[seq]) for seq, _ in new]
            )
        self.stored += len(new)
        return results, [(seq, areas[seq]) for seq, _ in new]
