"""The inbox worker of one tenant: acts on stored webhook events, in order, exactly once.

One resident's rows are handled one after another, oldest first; different residents' rows side
by side (at most ``CONCURRENCY`` at once), so a burst of follows — the day a city announces its
account — is greeted while LINE's reply tokens are still valid (they expire about a minute
after the event; ``bench/follow_burst.py``). Per ``pending`` row:
1. (only for a usable registration code) ask LINE for a link token — harmless to repeat;
2. one transaction: claim the row (``pending`` → ``replying``, conditional, so a second worker
   does nothing), apply the event's effects, store the reply with its reply token, drop a
   message's text from the payload;
3. send the reply; mark the row ``done``.

A crash after 2 leaves the row ``replying``: the effects are not applied again, the stored
reply is sent again with the same reply token, and LINE accepts a reply token only once — so a
reply that already went out is refused (400) and the row is closed; nothing is done twice.
When LINE is unavailable (429, 5xx, timeout) the round stops (every resident's chain before its
next row) so later events of the same resident never overtake earlier ones; after
``MAX_ATTEMPTS`` rounds the row is given up.

Several node processes: on PostgreSQL a round holds a transaction-level advisory lock per
tenant (``pg_try_advisory_xact_lock`` in a transaction of its own that stays open for the
round); a process that does not get it skips the round, so one tenant's events are handled by
one process at a time, in order. SQLite runs one node process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.line import conversation, repository
from municipal_node.line.models import InboxState, LineInboxEvent
from municipal_node.line.replies import LineReplies, Result
from municipal_node.linking import repository as linking_repository
from municipal_node.linking.digest import CodeLookup
from municipal_node.tenants.schemas import TenantConfig
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
PAGE = 200
#: residents whose events are handled at the same time (each one's own events stay in order);
#: more outruns the database pool for no gain (bench/follow_burst.py, docs/BENCHMARKS.md)
CONCURRENCY = 8
PURGE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class InboxRound:
    acted: int  # rows whose effects were applied this round
    replied: int  # replies LINE accepted
    closed: int  # rows finished (done or failed)
    blocked: bool  # stopped early: LINE unavailable


class _Blocked(Exception):
    """LINE is unavailable; stop the round and keep the order."""


class InboxWorker:
    def __init__(
        self,
        *,
        tenant_code: str,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        lookup: CodeLookup,
        timeout_seconds: float = 10.0,
        concurrency: int = CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError("the inbox worker needs a concurrency of at least 1")
        self._concurrency = concurrency
        self.tenant_code = tenant_code
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._lookup = lookup
        self._timeout = timeout_seconds
        self.wake = asyncio.Event()
        self.status = "starting"
        self._purged_at: datetime | None = None

    async def run_once(self) -> InboxRound:
        """Work through the open rows until none is left or LINE is unavailable; nothing when
        another process is working through this tenant's inbox (PostgreSQL)."""
        # the lock lives in this session's transaction: it goes with the rollback when the
        # session closes, however the round ends (return, error, cancellation, crash)
        async with self._sessions() as lock_session:
            if lock_session.get_bind().dialect.name == "postgresql" and not (
                await lock_session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"todoke.inbox:{self.tenant_code}"},
                )
            ):
                return InboxRound(0, 0, 0, False)
            return await self._round()

    async def _round(self) -> InboxRound:
        async with self._sessions() as session:
            tenant = await load_config(session, self.tenant_code, sealer=self._sealer)
            first = await repository.open_rows(session, self.tenant_code, limit=1)
        if tenant is None:
            return InboxRound(0, 0, 0, False)
        await self._purge_spent()
        if not first:
            return InboxRound(0, 0, 0, False)
        counts = {"acted": 0, "replied": 0, "closed": 0}
        async with LineReplies(
            base_url=tenant.line_api_base_url,
            access_token=tenant.line_access_token,
            timeout_seconds=self._timeout,
        ) as line:
            try:
                while True:
                    async with self._sessions() as session:
                        rows = await repository.open_rows(session, self.tenant_code, limit=PAGE)
                    if not rows:
                        break
                    await self._page(tenant, line, rows, counts)
            except _Blocked:
                return InboxRound(counts["acted"], counts["replied"], counts["closed"], True)
        return InboxRound(counts["acted"], counts["replied"], counts["closed"], False)

    async def _page(
        self,
        tenant: TenantConfig,
        line: LineReplies,
        rows: list[tuple[int, str | None]],
        counts: dict[str, int],
    ) -> None:
        """Each resident's rows in order, residents side by side; ``_Blocked`` once every
        chain has stopped when any of them found LINE unavailable."""
        chains: dict[str, list[int]] = {}
        for row_id, user_id in rows:
            chains.setdefault(user_id or f"#{row_id}", []).append(row_id)
        blocked = asyncio.Event()
        slots = asyncio.Semaphore(self._concurrency)

        async def chain(ids: list[int]) -> None:
            async with slots:
                for row_id in ids:
                    if blocked.is_set():
                        return
                    try:
                        await self._one(tenant, line, row_id, counts)
                    except _Blocked:
                        blocked.set()
                        return

        outcomes = await asyncio.gather(
            *(chain(ids) for ids in chains.values()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        if blocked.is_set():
            raise _Blocked

    async def _purge_spent(self) -> None:
        """At most hourly: forget expired link nonces and old code attempts."""
        now = self._clock.now()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        async with unit_of_work(self._sessions) as session:
            await linking_repository.purge_spent(session, self.tenant_code, now)
        self._purged_at = now

    async def _one(
        self, tenant: TenantConfig, line: LineReplies, row_id: int, counts: dict[str, int]
    ) -> None:
        async with self._sessions() as session:
            row = await repository.get_row(session, self.tenant_code, row_id)
            if row is None:
                return
            state, event, attempts = row.state, dict(row.payload or {}), row.attempts
            wants_token = state == InboxState.PENDING and await conversation.wants_link_token(
                session,
                lookup=self._lookup,
                tenant_code=self.tenant_code,
                event=event,
                now=self._clock.now(),
            )
        if state == InboxState.PENDING:
            link_token = None
            if wants_token:
                link_token = await self._link_token(line, row_id, event, attempts)
            try:
                claimed, reply = await self._act(tenant, row_id, event, link_token)
            except Exception as exc:
                await self._failed_to_act(row_id, attempts, exc)
                raise _Blocked from exc
            if not claimed:
                return
            counts["acted"] += 1
            if reply is None:
                counts["closed"] += 1
                return
        async with self._sessions() as session:
            current = await repository.get_row(session, self.tenant_code, row_id)
        if current is None or current.state != InboxState.REPLYING:
            return
        await self._send(line, current, counts)

    async def _link_token(
        self, line: LineReplies, row_id: int, event: dict[str, Any], attempts: int
    ) -> str | None:
        user_id = conversation.user_of(event)
        if user_id is None:
            return None
        outcome = await line.issue_link_token(user_id)
        if outcome.result is Result.OK:
            return outcome.link_token
        if outcome.result is Result.RETRY and attempts + 1 < MAX_ATTEMPTS:
            async with unit_of_work(self._sessions) as session:
                await repository.mark(
                    session,
                    self.tenant_code,
                    row_id,
                    state=InboxState.PENDING,
                    now=self._clock.now(),
                    error=f"link token: {outcome.error}",
                    count_attempt=True,
                )
            raise _Blocked
        log.warning(
            "tenant %s: inbox row %d: no link token (%s); replying without",
            self.tenant_code,
            row_id,
            outcome.status,
        )
        return None  # the reply says: try again later

    async def _failed_to_act(self, row_id: int, attempts: int, exc: Exception) -> None:
        """An unexpected error while acting (rolled back): count it; give up after a few."""
        log.error(
            "tenant %s: inbox row %d: %s while acting on it",
            self.tenant_code,
            row_id,
            type(exc).__name__,
        )
        give_up = attempts + 1 >= MAX_ATTEMPTS
        async with unit_of_work(self._sessions) as session:
            await repository.mark(
                session,
                self.tenant_code,
                row_id,
                state=InboxState.FAILED if give_up else InboxState.PENDING,
                now=self._clock.now(),
                error=f"unexpected {type(exc).__name__}",
                count_attempt=True,
            )

    async def _act(
        self,
        tenant: TenantConfig,
        row_id: int,
        event: dict[str, Any],
        link_token: str | None,
    ) -> tuple[bool, dict[str, Any] | None]:
        """(claimed, reply to send): the effects and the stored reply, in one transaction."""
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            if not await repository.claim(session, self.tenant_code, row_id):
                return False, None
            messages = await conversation.act(
                session,
                sealer=self._sealer,
                lookup=self._lookup,
                tenant=tenant,
                event=event,
                link_token=link_token,
                now=now,
            )
            token = event.get("replyToken")
            reply = (
                {"token": token, "messages": messages}
                if messages and isinstance(token, str) and token
                else None
            )
            await repository.finish_acting(
                session,
                self.tenant_code,
                row_id,
                payload=conversation.redacted(event),
                reply=reply,
                now=now,
            )
        return True, reply

    async def _send(self, line: LineReplies, row: LineInboxEvent, counts: dict[str, int]) -> None:
        reply = row.reply or {}
        token, messages = reply.get("token"), reply.get("messages")
        now = self._clock.now()
        if not isinstance(token, str) or not isinstance(messages, list):
            outcome_state, error = InboxState.DONE, "no reply stored"
        else:
            outcome = await line.reply(token, messages)
            if outcome.result is Result.OK:
                counts["replied"] += 1
                outcome_state, error = InboxState.DONE, None
            elif outcome.result is Result.REJECTED:
                # e.g. the token was used already (a reply sent before a crash) or expired
                outcome_state, error = InboxState.DONE, f"reply refused: {outcome.error}"
            elif row.attempts + 1 < MAX_ATTEMPTS:
                async with unit_of_work(self._sessions) as session:
                    await repository.mark(
                        session,
                        self.tenant_code,
                        row.id,
                        state=InboxState.REPLYING,
                        now=now,
                        error=f"reply: {outcome.error or outcome.status}",
                        count_attempt=True,
                    )
                raise _Blocked
            else:
                outcome_state, error = InboxState.FAILED, f"reply: {outcome.error}"
        async with unit_of_work(self._sessions) as session:
            await repository.mark(
                session, self.tenant_code, row.id, state=outcome_state, now=now, error=error
            )
        counts["closed"] += 1

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        self.status = "running"
        while not stop.is_set():
            self.wake.clear()
            try:
                result = await self.run_once()
                self.status = "retrying: LINE unavailable" if result.blocked else "running"
            except Exception:
                self.status = "retrying: unexpected error"
                log.exception("tenant %s: unexpected error in the inbox worker", self.tenant_code)
            stop_wait = asyncio.create_task(stop.wait())
            wake_wait = asyncio.create_task(self.wake.wait())
            await asyncio.wait(
                {stop_wait, wake_wait}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            for task in (stop_wait, wake_wait):
                task.cancel()
        self.status = "stopped"
