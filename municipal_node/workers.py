"""Background work of a running node: per tenant one feed follower and one dispatcher.

A supervisor looks for tenants every poll interval, so a tenant added with
``todoke node add-tenant`` while the node runs is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.dispatch.worker import Dispatcher, LineOptions
from municipal_node.relay.follower import FeedFollower
from municipal_node.tenants import repository as tenants

log = logging.getLogger(__name__)


@dataclass
class TenantWorkers:
    follower: FeedFollower
    dispatcher: Dispatcher
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class Workers:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        interval: float,
        line: LineOptions,
        hub_timeout_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._interval = interval
        self._line = line
        self._hub_timeout = hub_timeout_seconds
        self._stop = asyncio.Event()
        self._http: httpx.AsyncClient | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.tenants: dict[str, TenantWorkers] = {}

    async def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=self._hub_timeout)
        await self._start_new_tenants()
        self._supervisor = asyncio.create_task(self._supervise(), name="node-supervisor")

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
            )
            entry = TenantWorkers(follower, dispatcher)
            entry.tasks.append(
                asyncio.create_task(follower.run(self._interval, self._stop), name=f"feed-{code}")
            )
            entry.tasks.append(
                asyncio.create_task(
                    dispatcher.run(self._interval, self._stop), name=f"dispatch-{code}"
                )
            )
            self.tenants[code] = entry
            log.info("tenant %s: feed follower and dispatcher started", code)

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
            code: {"feed": entry.follower.status, "dispatch": entry.dispatcher.status}
            for code, entry in self.tenants.items()
        }
