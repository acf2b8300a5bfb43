"""The senders of one tenant in one process: a pipeline (``_Pipeline``).

- a claimer claims many batches in one statement, keeping claimed and not yet recorded at
  most twice the number of senders plus half a second's worth at the bucket's rate (so
  database latency never starves the senders, and a lease never waits long);
- a checker takes the next batches' tokens from the channel's token bucket and, just before
  the first of them may go, runs ONE reachability query for them (≤ 16 batches whose tokens
  fall within 50 ms), started about 1.5 query-times ahead: a user who unfollowed or chose
  "stop all" is dropped at most ~50 ms + 1.5 query-times before the request, whatever the
  rate;
- ``concurrency`` senders share one LINE client (one connection pool); each waits for its
  batch's token time and makes the request;
- a recorder writes every outcome waiting in one transaction (group commit).

Database connections in use: at most three, whatever the concurrency. The claimer sleeps when
nothing is claimable and wakes on ``wake`` (the planner in this process committed a chunk) or
after ``poll_seconds`` (other processes, retries whose backoff ran out, leases of crashed
senders that ran out). On stop, batches claimed but not started are handed back at once;
requests in flight finish and are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.delivery.line_client import LineClient, SendResult
from municipal_node.delivery.ratelimit import TokenBucket
from municipal_node.dispatch.repository import ClaimedBatch
from municipal_node.dispatch.sender import Attempted, BatchSender, Prepared, SendOptions
from municipal_node.tenants.schemas import TenantConfig
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)

CONFIG_RECHECK_SECONDS = 60.0
#: most outcomes written in one transaction
RECORD_GROUP = 64
#: most batches checked in one reachability query, and how far ahead of its send a batch may
#: be checked (at 190/s: ~9 batches a query; at any rate: checked ≤ 50 ms before its request)
CHECK_GROUP = 16
CHECK_WINDOW_SECONDS = 0.05
#: how long before the first token of a group its query starts: ~1.5 × the recent query time
CHECK_LEAD_SECONDS = 0.02
CHECK_LEAD_MAX_SECONDS = 0.5


def worker_name() -> str:
    """Who holds a claim: host, process and a random tag (unique per process start)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class DrainReport:
    sent: int = 0
    retry_later: int = 0
    failed: int = 0


class SenderPool:
    def __init__(
        self,
        *,
        tenant_code: str,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        options: SendOptions,
        timeout_seconds: float,
        concurrency: int,
        bucket: TokenBucket,
        poll_seconds: float,
        worker: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("a sender pool needs at least one sender")
        self.tenant_code = tenant_code
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._options = options
        self._timeout = timeout_seconds
        self.concurrency = concurrency
        self.bucket = bucket
        self._poll = poll_seconds
        self.worker = worker or worker_name()
        self._rng = rng
        self.wake = asyncio.Event()
        self.status = "starting"

    async def _config(self) -> TenantConfig | None:
        async with self._sessions() as session:
            return await load_config(session, self.tenant_code, sealer=self._sealer)

    def _client(self, config: TenantConfig) -> LineClient:
        return LineClient(
            base_url=config.line_api_base_url,
            access_token=config.line_access_token,
            timeout_seconds=self._timeout,
            max_connections=self.concurrency,
        )

    def _sender(self, client: LineClient) -> BatchSender:
        return BatchSender(
            tenant_code=self.tenant_code,
            sessions=self._sessions,
            sealer=self._sealer,
            clock=self._clock,
            client=client,
            bucket=self.bucket,
            options=self._options,
            worker=self.worker,
            rng=self._rng,
        )

    async def drain(self) -> DrainReport:
        """Send every batch claimable now, ``concurrency`` at a time (tests, ``run_once``)."""
        config = await self._config()
        if config is None:
            return DrainReport()
        counts: Counter[SendResult] = Counter()
        async with self._client(config) as client:
            sender = self._sender(client)
            while batches := await sender.claim(self.concurrency):
                prepared = await sender.prepare(batches)
                attempted = await asyncio.gather(*(sender.attempt(p) for p in prepared))
                await sender.record(attempted)
                counts.update(a.outcome.result for a in attempted if not a.prepared.withdrawn)
        return DrainReport(
            counts[SendResult.SENT], counts[SendResult.RETRY_LATER], counts[SendResult.FAILED]
        )

    async def run(self, stop: asyncio.Event) -> None:
        self.status = "running"
        while not stop.is_set():
            try:
                config = await self._config()
                if config is None:
                    await _wait(stop, self.wake, self._poll)
                    continue
                async with self._client(config) as client:
                    await _Pipeline(self, self._sender(client), config).run(stop)
                self.status = "running"
            except Exception:
                self.status = "retrying: unexpected error"
                log.exception("tenant %s: unexpected error in the senders", self.tenant_code)
                await _wait(stop, self.wake, self._poll)
        self.status = "stopped"


class _Pipeline:
    """claimer → checker (tokens, reachability) → senders (LINE) → recorder; see the module
    docstring. A step that fails leaves its batch claimed: the lease runs out and it is sent
    again with the same retry key."""

    def __init__(self, pool: SenderPool, sender: BatchSender, config: TenantConfig) -> None:
        self.pool = pool
        self.sender = sender
        self.config = config
        self.claimed: asyncio.Queue[ClaimedBatch] = asyncio.Queue()
        #: checked batches with the moment their token lets them go
        self.ready: asyncio.Queue[tuple[Prepared, float]] = asyncio.Queue()
        self.done: asyncio.Queue[Attempted] = asyncio.Queue()
        self.inflight = 0
        self.room = asyncio.Event()
        # enough claimed batches to cover half a second at the bucket's rate, so database
        # latency (check, record) never starves the senders
        self.limit = 2 * pool.concurrency + int(pool.bucket.rate / 2)
        self.lead = CHECK_LEAD_SECONDS
        #: the batches the checker holds (between the claimed and ready queues)
        self.checking: list[ClaimedBatch] = []

    def _finished(self, count: int) -> None:
        self.inflight -= count
        self.room.set()

    async def _check(self) -> None:
        """Take the next batches' tokens, then check them: a batch is checked at most
        ``CHECK_WINDOW_SECONDS`` before its token lets it go, whatever the rate."""
        bucket = self.pool.bucket
        while True:
            group = [await self.claimed.get()]
            first = time.monotonic() + bucket.reserve()
            slots = [first]
            self.checking = group
            while (
                len(group) < CHECK_GROUP
                and not self.claimed.empty()
                and time.monotonic() + bucket.peek() <= first + CHECK_WINDOW_SECONDS
            ):
                group.append(self.claimed.get_nowait())
                slots.append(time.monotonic() + bucket.reserve())
            # query just ahead of the first token (by about a query's duration), so the
            # tokens after it are not lost waiting for the answer
            await asyncio.sleep(max(0.0, first - self.lead - time.monotonic()))
            started = time.monotonic()
            try:
                prepared = await self.sender.prepare(group)
            except Exception:
                log.exception("tenant %s: reachability check of %d batch(es) failed",
                              self.pool.tenant_code, len(group))  # fmt: skip
                self.checking = []
                self._finished(len(group))
                continue
            took = time.monotonic() - started
            self.lead = min(
                CHECK_LEAD_MAX_SECONDS, max(CHECK_LEAD_SECONDS, 0.8 * self.lead + 0.3 * took)
            )
            for item, slot in zip(prepared, slots, strict=True):
                self.ready.put_nowait((item, slot))
            self.checking = []

    async def _send(self) -> None:
        while True:
            prepared, slot = await self.ready.get()
            try:
                await asyncio.sleep(max(0.0, slot - time.monotonic()))
                attempted = await self.sender.attempt(prepared, paced=False)
            except Exception:
                log.exception("tenant %s: batch %d: sending failed",
                              self.pool.tenant_code, prepared.batch.id)  # fmt: skip
                self._finished(1)
                continue
            self.done.put_nowait(attempted)

    async def _record(self) -> None:
        while True:
            group = [await self.done.get()]
            while not self.done.empty() and len(group) < RECORD_GROUP:
                group.append(self.done.get_nowait())
            try:
                await self.sender.record(group)
            except Exception:
                log.exception("tenant %s: %d outcome(s) could not be recorded",
                              self.pool.tenant_code, len(group))  # fmt: skip
            self._finished(len(group))

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until ``stop``, or until the tenant's LINE settings changed."""
        pool = self.pool
        tasks = [
            asyncio.create_task(self._check()),
            asyncio.create_task(self._record()),
            *(asyncio.create_task(self._send()) for _ in range(pool.concurrency)),
        ]
        recheck = time.monotonic() + CONFIG_RECHECK_SECONDS
        try:
            while not stop.is_set():
                if time.monotonic() >= recheck:
                    recheck = time.monotonic() + CONFIG_RECHECK_SECONDS
                    fresh = await pool._config()
                    if fresh is None or _line_settings(fresh) != _line_settings(self.config):
                        log.info("tenant %s: LINE settings changed; new client", pool.tenant_code)
                        return
                free = self.limit - self.inflight
                if free < max(1, pool.concurrency // 2):
                    self.room.clear()
                    await _wait(stop, self.room, pool._poll)
                    continue
                pool.wake.clear()
                batches = await self.sender.claim(free)
                self.inflight += len(batches)
                for batch in batches:
                    self.claimed.put_nowait(batch)
                if not batches:
                    await _wait(stop, pool.wake, pool._poll)
        finally:
            await self._wind_down(tasks)

    async def _wind_down(self, tasks: list[asyncio.Task[None]]) -> None:
        """Hand back what was claimed but not started; let requests in flight finish and be
        recorded (up to a request timeout), then stop the tasks."""
        checker = tasks[0]
        checker.cancel()
        await asyncio.gather(checker, return_exceptions=True)
        unsent: list[ClaimedBatch] = list(self.checking)
        self.checking = []
        while not self.claimed.empty():
            unsent.append(self.claimed.get_nowait())
        while not self.ready.empty():
            unsent.append(self.ready.get_nowait()[0].batch)
        self.inflight -= len(unsent)
        with contextlib.suppress(Exception):
            await self.sender.release(unsent)
        deadline = time.monotonic() + self.pool._timeout + 5
        while self.inflight > 0 and time.monotonic() < deadline:
            self.room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.room.wait(), timeout=deadline - time.monotonic())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _line_settings(config: TenantConfig) -> tuple[str, str]:
    return config.line_api_base_url, config.line_access_token


async def _wait(stop: asyncio.Event, event: asyncio.Event, timeout: float) -> None:
    """Until ``stop`` or ``event`` is set, or ``timeout`` seconds passed."""
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(event.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
