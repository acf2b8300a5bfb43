"""The retention purge in a running node: shortly after start, then every
``retention_interval_hours`` (default daily). Started by ``municipal_node.workers.Workers``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.privacy.retention import purge
from municipal_node.settings import NodeSettings

log = logging.getLogger(__name__)


class RetentionTask:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: NodeSettings,
        clock: Clock,
        first_delay_seconds: float = 60.0,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock
        self._first_delay = first_delay_seconds
        self.runs = 0
        self.status = "waiting"

    async def run_once(self) -> None:
        results = await purge(
            self._sessions, settings=self._settings, now=self._clock.now(), actor="node"
        )
        self.runs += 1
        self.status = "ok"
        log.info(
            "retention purge: %s",
            ", ".join(f"{r.name}={'off' if r.count is None else r.count}" for r in results),
        )

    async def run(self, stop: asyncio.Event) -> None:
        delay = self._first_delay
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return
            try:
                await self.run_once()
            except Exception:
                self.status = "failed (retried at the next interval)"
                log.exception("retention purge failed")
            delay = self._settings.retention_interval_hours * 3600
