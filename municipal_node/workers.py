"""Background work of a running node: per tenant a feed follower, a live subscription that
wakes it, and a dispatcher (planner + senders). ``SendWorkers`` is what a
``todoke node dispatch-worker`` process runs: sender pools only, one per tenant.

A supervisor looks for tenants every poll interval, so a tenant added with
``todoke node add-tenant`` while the node runs is picked up without a restart. The follower
reads the feed when the subscription hints (or (re)connects); while the subscription is down it
polls every ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.dispatch.pool import SenderPool
from municipal_node.dispatch.worker import Dispatcher, LineOptions
from municipal_node.line.inbox_worker import InboxWorker
from municipal_node.linking.digest import CodeLookup
from municipal_node.privacy.schedule import RetentionTask
from municipal_node.relay.backoff import Backoff
from municipal_node.relay.follower import FeedFollower
from municipal_node.relay.subscription import SubscriptionClient
from municipal_node.reports.task import ReportTask
from municipal_node.scheduler.runner import Scheduler
from municipal_node.tenants import repository as tenants
from municipal_node.tenants.schemas import TenantConfig
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubOptions:
    timeout_seconds: float = 10.0
    subscribe: bool = True
    idle_poll_seconds: float = 300.0
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 60.0

    def backoff(self) -> Backoff:
        return Backoff(self.backoff_base_seconds, self.backoff_cap_seconds)


@dataclass
class TenantWorkers:
    follower: FeedFollower
    dispatcher: Dispatcher
    subscription: SubscriptionClient | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: acts on stored LINE webhook events (None when the node has no code lookup key)
    inbox: InboxWorker | None = None

    def is_live(self) -> bool:
        """Whether the live subscription is up (else the follower polls)."""
        return self.subscription is not None and self.subscription.live


class Workers:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        interval: float,
        line: LineOptions,
        hub: HubOptions,
        code_lookup: CodeLookup | None = None,
        retention: RetentionTask | None = None,
        scheduler: Scheduler | None = None,
        reports: ReportTask | None = None,
    ) -> None:
        #: delivery reports to the hub, every tenant with a node key (municipal_node.reports)
        self.reports = reports
        self._reports_task: asyncio.Task[None] | None = None
        self._code_lookup = code_lookup
        #: due tasks of every tenant (campaign phases, recurring notices, date triggers)
        self.scheduler = scheduler
        self._scheduler_task: asyncio.Task[None] | None = None
        self.retention = retention  # the daily retention purge (municipal_node.privacy)
        self._retention_task: asyncio.Task[None] | None = None
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._interval = interval
        self._line = line
        self._hub = hub
        self._stop = asyncio.Event()
        self._http: httpx.AsyncClient | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.tenants: dict[str, TenantWorkers] = {}

    async def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=self._hub.timeout_seconds)
        await self._start_new_tenants()
        self._supervisor = asyncio.create_task(self._supervise(), name="node-supervisor")
        if self.retention is not None:
            self._retention_task = asyncio.create_task(
                self.retention.run(self._stop), name="retention"
            )
        if self.scheduler is not None:
            self.scheduler.on_done = self._wake_planner
            self._scheduler_task = asyncio.create_task(
                self.scheduler.run(self._interval, self._stop), name="scheduler"
            )
        if self.reports is not None:
            self._reports_task = asyncio.create_task(self.reports.run(self._stop), name="reports")

    def _wake_planner(self, code: str) -> None:
        entry = self.tenants.get(code)
        if entry is not None:
            entry.dispatcher.wake.set()

    def _config_loader(self, code: str) -> Callable[[], Awaitable[TenantConfig | None]]:
        async def load() -> TenantConfig | None:
            async with self._sessions() as session:
                return await load_config(session, code, sealer=self._sealer)

        return load

    async def _start_new_tenants(self) -> None:
        if self._http is None:
            raise RuntimeError("workers not started")
        async with self._sessions() as session:
            codes = await tenants.list_codes(session)
        for code in codes:
            if code in self.tenants:
                continue
            dispatcher = Dispatcher(
                tenant_code=code,
                sessions=self._sessions,
                sealer=self._sealer,
                clock=self._clock,
                line=self._line,
                poll_seconds=self._interval,
            )
            follower = FeedFollower(
                tenant_code=code,
                sessions=self._sessions,
                sealer=self._sealer,
                clock=self._clock,
                http=self._http,
                on_stored=dispatcher.wake.set,
                auth_backoff=self._hub.backoff(),
            )
            entry = TenantWorkers(follower, dispatcher)
            if self._hub.subscribe:
                subscription = SubscriptionClient(
                    tenant_code=code,
                    load_config=self._config_loader(code),
                    on_wake=follower.wake.set,
                    backoff=self._hub.backoff(),
                    poll_interval=self._interval,
                    ack_timeout=self._hub.timeout_seconds,
                )
                follower.on_auth_recovered = subscription.retry_now.set
                entry.subscription = subscription
                entry.tasks.append(
                    asyncio.create_task(subscription.run(self._stop), name=f"subscribe-{code}")
                )
            entry.tasks.append(
                asyncio.create_task(
                    follower.run(
                        self._interval,
                        self._stop,
                        live=entry.is_live,
                        idle_interval=self._hub.idle_poll_seconds,
                    ),
                    name=f"feed-{code}",
                )
            )
            entry.tasks.append(
                asyncio.create_task(
                    dispatcher.run(self._interval, self._stop), name=f"dispatch-{code}"
                )
            )
            if self._code_lookup is not None:
                entry.inbox = InboxWorker(
                    tenant_code=code,
                    sessions=self._sessions,
                    sealer=self._sealer,
                    clock=self._clock,
                    lookup=self._code_lookup,
                    timeout_seconds=self._line.timeout_seconds,
                )
                entry.tasks.append(
                    asyncio.create_task(
                        entry.inbox.run(self._interval, self._stop), name=f"inbox-{code}"
                    )
                )
            self.tenants[code] = entry
            log.info(
                "tenant %s: feed follower%s and dispatcher started",
                code,
                ", live subscription" if entry.subscription is not None else "",
            )

    async def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)
            except TimeoutError:
                try:
                    await self._start_new_tenants()
                except Exception:
                    log.exception("could not look for new tenants")

    async def stop(self, timeout: float = 15.0) -> None:
        """Ask every loop to finish its current step, then wait (cancel after ``timeout``)."""
        self._stop.set()
        tasks = [task for entry in self.tenants.values() for task in entry.tasks]
        if self._supervisor is not None:
            tasks.append(self._supervisor)
        if self._retention_task is not None:
            tasks.append(self._retention_task)
        if self._scheduler_task is not None:
            tasks.append(self._scheduler_task)
        if self._reports_task is not None:
            tasks.append(self._reports_task)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    def health(self) -> dict[str, dict[str, str]]:
        """Per tenant, what each loop is doing (``/healthz``)."""
        return {
            code: {
                "feed": entry.follower.status,
                "dispatch": entry.dispatcher.health(),
                "subscription": (
                    entry.subscription.state if entry.subscription is not None else "disabled"
                ),
                "inbox": entry.inbox.status if entry.inbox is not None else "disabled",
                "reports": (
                    self.reports.status.get(code, "waiting for the first run")
                    if self.reports is not None
                    else "disabled"
                ),
            }
            for code, entry in self.tenants.items()
        }

    def scheduler_health(self) -> str:
        """The scheduler loop (every tenant's campaign phases, recurring notices, triggers)."""
        return self.scheduler.status if self.scheduler is not None else "disabled"


class SendWorkers:
    """Sender pools only (no feed, no webhooks, no planning), one per tenant, for
    ``todoke node dispatch-worker``; tenants added later are picked up every ``interval``."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        interval: float,
        line: LineOptions,
    ) -> None:
        if line.concurrency < 1:
            raise ValueError("a dispatch worker needs dispatch_concurrency ≥ 1")
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._interval = interval
        self._line = line
        self._stop = asyncio.Event()
        self.pools: dict[str, SenderPool] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def _start_new_tenants(self) -> None:
        async with self._sessions() as session:
            codes = await tenants.list_codes(session)
        for code in codes:
            if code in self.pools:
                continue
            pool = self._line.pool(
                tenant_code=code,
                sessions=self._sessions,
                sealer=self._sealer,
                clock=self._clock,
                poll_seconds=self._interval,
            )
            self.pools[code] = pool
            self._tasks.append(asyncio.create_task(pool.run(self._stop), name=f"send-{code}"))
            log.info("tenant %s: senders started (%d)", code, pool.concurrency)

    async def run(self) -> None:
        """Until ``stop``: look for tenants every ``interval`` seconds."""
        while not self._stop.is_set():
            try:
                await self._start_new_tenants()
            except Exception:
                log.exception("could not look for new tenants")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)

    async def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
