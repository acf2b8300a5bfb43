"""Background work of a running node: per tenant a feed follower, a live subscription that
wakes it, and a dispatcher.

A supervisor looks for tenants every poll interval, so a tenant added with
``todoke node add-tenant`` while the node runs is picked up without a restart. The follower
reads the feed when the subscription hints (or (re)connects); while the subscription is down it
polls every ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.dispatch.worker import Dispatcher, LineOptions
from municipal_node.relay.backoff import Backoff
from municipal_node.relay.follower import FeedFollower
from municipal_node.relay.subscription import SubscriptionClient
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
    ) -> None:
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
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    def health(self) -> dict[str, dict[str, str]]:
        return {
            code: {
                "feed": entry.follower.status,
                "dispatch": entry.dispatcher.status,
                "subscription": (
                    entry.subscription.state if entry.subscription is not None else "disabled"
                ),
            }
            for code, entry in self.tenants.items()
        }
