"""The dispatcher of one tenant: plan stored notices, then drain the outbox, each round."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.delivery.line_client import LineClient, SendResult
from municipal_node.dispatch import repository
from municipal_node.dispatch.service import plan_notice, send_next
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineOptions:
    timeout_seconds: float
    attempts: int
    backoff_base_seconds: float


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
    ) -> None:
        self.tenant_code = tenant_code
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._line = line
        self.wake = asyncio.Event()
        self.status = "starting"

    async def run_once(self) -> RoundReport:
        async with self._sessions() as session:
            config = await load_config(session, self.tenant_code, sealer=self._sealer)
            to_plan = await repository.notices_to_plan(session, self.tenant_code)
        if config is None:
            return RoundReport(0, 0, 0, 0)
        planned = 0
        for notice_pk in to_plan:
            async with unit_of_work(self._sessions) as session:
                result = await plan_notice(
                    session,
                    sealer=self._sealer,
                    tenant_code=self.tenant_code,
                    notice_pk=notice_pk,
                    now=self._clock.now(),
                )
            planned += int(result is not None)
        async with self._sessions() as session:
            if not await repository.has_pending(session, self.tenant_code):
                return RoundReport(planned, 0, 0, 0)
        sent = later = failed = 0
        skip: tuple[int, ...] = ()
        async with LineClient(
            base_url=config.line_api_base_url,
            access_token=config.line_access_token,
            timeout_seconds=self._line.timeout_seconds,
            attempts=self._line.attempts,
            backoff_base_seconds=self._line.backoff_base_seconds,
        ) as client:
            while True:
                report = await send_next(
                    self._sessions,
                    tenant=config,
                    client=client,
                    sealer=self._sealer,
                    now=self._clock.now(),
                    skip=skip,
                )
                if report is None:
                    break
                if report.result is SendResult.SENT:
                    sent += 1
                elif report.result is SendResult.FAILED:
                    failed += 1
                else:
                    later += 1
                    skip += (report.batch_id,)
        return RoundReport(planned, sent, later, failed)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        self.status = "running"
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.run_once()
                self.status = "running"
            except Exception:
                self.status = "retrying: unexpected error"
                log.exception("tenant %s: unexpected error in the dispatcher", self.tenant_code)
            stop_wait = asyncio.create_task(stop.wait())
            wake_wait = asyncio.create_task(self.wake.wait())
            await asyncio.wait(
                {stop_wait, wake_wait}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            for task in (stop_wait, wake_wait):
                task.cancel()
        self.status = "stopped"
