"""The dispatcher of one tenant in ``todoke node serve``: a planning loop (jobs for stored
notices, streaming plans, the sweep) and, unless this process does not send
(``dispatch_concurrency = 0``), a pool of senders. ``todoke node dispatch-worker`` processes
run sender pools only."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.delivery.ratelimit import TokenBucket
from municipal_node.dispatch import control, repository
from municipal_node.dispatch.models import JobState
from municipal_node.dispatch.planner import create_job, plan_job
from municipal_node.dispatch.pool import SenderPool
from municipal_node.dispatch.sender import SendOptions
from municipal_node.settings import NodeSettings
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineOptions:
    """How this process talks to LINE (``TODOKE_NODE_LINE_*``, ``TODOKE_NODE_DISPATCH_*``)."""

    timeout_seconds: float
    attempts: int
    backoff_base_seconds: float
    backoff_cap_seconds: float = 60.0
    lease_seconds: float = 60.0
    concurrency: int = 16
    multicast_rate: float = 190.0
    multicast_burst: int = 10
    multicast_rates: Mapping[str, float] = field(default_factory=dict)
    processes: int = 1

    @classmethod
    def from_settings(cls, settings: NodeSettings) -> LineOptions:
        return cls(
            timeout_seconds=settings.line_timeout_seconds,
            attempts=settings.line_retry_attempts,
            backoff_base_seconds=settings.line_backoff_base_seconds,
            backoff_cap_seconds=settings.line_backoff_cap_seconds,
            lease_seconds=settings.dispatch_lease_seconds,
            concurrency=settings.dispatch_concurrency,
            multicast_rate=settings.line_multicast_rate,
            multicast_burst=settings.line_multicast_burst,
            multicast_rates=dict(settings.line_multicast_rate_by_tenant),
            processes=settings.dispatch_processes,
        )

    def send_options(self) -> SendOptions:
        return SendOptions(
            attempts=self.attempts,
            backoff_base_seconds=self.backoff_base_seconds,
            backoff_cap_seconds=self.backoff_cap_seconds,
            lease_seconds=self.lease_seconds,
        )

    def bucket_for(self, tenant_code: str) -> TokenBucket:
        """This process's share of the channel's multicast rate (see ``delivery.ratelimit``)."""
        rate = self.multicast_rates.get(tenant_code, self.multicast_rate)
        return TokenBucket(
            rate=rate / self.processes,
            burst=max(1, self.multicast_burst // self.processes),
        )

    def pool(
        self,
        *,
        tenant_code: str,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        poll_seconds: float,
        concurrency: int | None = None,
        rng: random.Random | None = None,
    ) -> SenderPool:
        return SenderPool(
            tenant_code=tenant_code,
            sessions=sessions,
            sealer=sealer,
            clock=clock,
            options=self.send_options(),
            timeout_seconds=self.timeout_seconds,
            concurrency=concurrency or self.concurrency,
            bucket=self.bucket_for(tenant_code),
            poll_seconds=poll_seconds,
            rng=rng,
        )


@dataclass(frozen=True)
class RoundReport:
    planned: int
    sent_batches: int
    retry_later: int
    failed: int


class Dispatcher:
    def __init__(
        self,
        *,
        tenant_code: str,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        line: LineOptions,
        poll_seconds: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self.tenant_code = tenant_code
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._line = line
        self.wake = asyncio.Event()
        self.status = "starting"
        self.senders: SenderPool | None = (
            line.pool(
                tenant_code=tenant_code,
                sessions=sessions,
                sealer=sealer,
                clock=clock,
                poll_seconds=poll_seconds,
                rng=rng,
            )
            if line.concurrency > 0
            else None
        )
        self._poll = poll_seconds
        self._rng = rng

    def health(self) -> str:
        """The planner's status, or the senders' when they are in trouble."""
        if self.senders is not None and self.senders.status.startswith("retrying"):
            return self.senders.status
        return self.status

    def _chunk_committed(self) -> None:
        if self.senders is not None:
            self.senders.wake.set()

    async def plan_round(self) -> int:
        """Jobs for stored notices, planning of every ``planning`` job, the sweep; the number
        of jobs planned to the end."""
        async with self._sessions() as session:
            config = await load_config(session, self.tenant_code, sealer=self._sealer)
            to_plan = await repository.notices_to_plan(session, self.tenant_code)
        if config is None:
            return 0
        for notice_pk in to_plan:
            async with unit_of_work(self._sessions) as session:
                await create_job(session, tenant=config, notice_pk=notice_pk, now=self._clock.now())
        async with self._sessions() as session:
            planning = await repository.job_ids_in_state(
                session, self.tenant_code, JobState.PLANNING
            )
        planned = 0
        for job_id in planning:
            report = await plan_job(
                self._sessions,
                sealer=self._sealer,
                clock=self._clock,
                tenant_code=self.tenant_code,
                job_id=job_id,
                on_chunk=self._chunk_committed,
            )
            planned += int(report is not None)
        async with unit_of_work(self._sessions) as session:
            await control.sweep(session, tenant_code=self.tenant_code, now=self._clock.now())
        self._chunk_committed()
        return planned

    async def run_once(self) -> RoundReport:
        """One planning round, then send everything sendable now (tests and tools)."""
        planned = await self.plan_round()
        pool = self.senders or self._line.pool(
            tenant_code=self.tenant_code,
            sessions=self._sessions,
            sealer=self._sealer,
            clock=self._clock,
            poll_seconds=self._poll,
            concurrency=1,
            rng=self._rng,
        )
        drained = await pool.drain()
        async with unit_of_work(self._sessions) as session:
            await control.sweep(session, tenant_code=self.tenant_code, now=self._clock.now())
        return RoundReport(planned, drained.sent, drained.retry_later, drained.failed)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        senders = (
            asyncio.create_task(self.senders.run(stop), name=f"send-{self.tenant_code}")
            if self.senders is not None
            else None
        )
        self.status = "running"
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.plan_round()
                self.status = "running"
            except Exception:
                self.status = "retrying: unexpected error"
                log.exception("tenant %s: unexpected error in the planner", self.tenant_code)
            stop_wait = asyncio.create_task(stop.wait())
            wake_wait = asyncio.create_task(self.wake.wait())
            await asyncio.wait(
                {stop_wait, wake_wait}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            for task in (stop_wait, wake_wait):
                task.cancel()
        if senders is not None:
            await senders
        self.status = "stopped"
