"""Submitting changed delivery reports in a running node: every ``report_interval_seconds``
(first shortly after start), for every tenant that has a node key and a hub credential
(others are skipped quietly: reporting is optional until ``todoke node report-key`` is run and
the key registered at the hub). Started by ``municipal_node.workers.Workers``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.kpis.insight import LineInsight
from municipal_node.reports.keys import private_key_of
from municipal_node.reports.service import SubmitSummary, submit_changed
from municipal_node.settings import NodeSettings
from municipal_node.tenants import repository as tenants
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)


class ReportTask:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        settings: NodeSettings,
        clock: Clock,
        first_delay_seconds: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._sealer = sealer
        self._settings = settings
        self._clock = clock
        self._first_delay = first_delay_seconds
        self.runs = 0
        #: per tenant: "ok", "skipped (…)", or what went wrong
        self.status: dict[str, str] = {}

    async def run_tenant(self, code: str, http: httpx.AsyncClient) -> SubmitSummary | None:
        async with self._sessions() as session:
            config = await load_config(session, code, sealer=self._sealer)
        if config is None or config.hub_credential is None or private_key_of(config) is None:
            self.status[code] = "skipped (no node key or hub credential)"
            return None
        async with LineInsight(
            base_url=config.line_api_base_url,
            access_token=config.line_access_token,
            timeout_seconds=self._settings.line_timeout_seconds,
        ) as insight:
            summary = await submit_changed(
                self._sessions,
                config=config,
                http=http,
                now=self._clock.now(),
                insight=insight,
                horizon=timedelta(days=self._settings.report_horizon_days),
            )
        self.status[code] = "ok" if not summary.errors else f"errors: {summary.errors[0][:200]}"
        if summary.submitted or summary.rejected or summary.errors:
            log.info(
                "tenant %s reports: %d submitted, %d refused, %d unchanged, %d errors",
                code,
                summary.submitted,
                summary.rejected,
                summary.unchanged,
                len(summary.errors),
            )
        return summary

    async def run_once(self) -> None:
        async with self._sessions() as session:
            codes = await tenants.list_codes(session)
        async with httpx.AsyncClient(timeout=self._settings.hub_timeout_seconds) as http:
            for code in codes:
                try:
                    await self.run_tenant(code, http)
                except Exception as exc:
                    self.status[code] = f"failed: {type(exc).__name__}"
                    log.exception("tenant %s: delivery reports failed", code)
        self.runs += 1

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
                log.exception("delivery reports failed")
            delay = self._settings.report_interval_seconds
