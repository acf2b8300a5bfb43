"""Running due tasks: ``Scheduler.run_once(tenant_code)`` (tests, tools) and ``Scheduler.run``
(the loop ``todoke node serve`` starts, over every tenant).

One task at a time, each in ONE transaction: the claim (``UPDATE … WHERE id IN (SELECT … FOR
UPDATE SKIP LOCKED) RETURNING``), the handler's writes and the task marked ``done`` are
committed together. On PostgreSQL the claimed row stays locked until that commit, so another
process skips it and never runs it too; a process that dies mid-task loses its transaction (the
task is claimable again at once, nothing of it was committed). On SQLite the claim is a single
UPDATE under the database's write lock (one process). A handler that raises is rolled back and
the task retried after a backoff (``attempts``, ``last_error``, ``lease_until`` = not before);
after ``retry_attempts`` it is ``failed``.

Catch-up: a task found due that has never been tried and whose ``due_at`` is older than
``catch_up_hours`` (the node was down) is not run: it becomes ``missed``, an audit record and a
WARNING say so, and the kind's ``on_missed`` hook (if any) is told in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.audit import repository as audit
from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.scheduler.models import ScheduledTask, TaskState
from municipal_node.scheduler.registry import (
    HANDLERS,
    MISSED_HOOKS,
    DeferTaskError,
    TaskContext,
)
from municipal_node.settings import NodeSettings
from municipal_node.tenants import repository as tenants
from municipal_node.tenants.schemas import TenantConfig
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)

ACTOR = "scheduler"
#: outcome of a task a handler put off (``DeferTaskError``)
DEFERRED = "deferred"


@dataclass(frozen=True)
class SchedulerOptions:
    catch_up_hours: float = 24.0
    retry_attempts: int = 8
    backoff_base_seconds: float = 60.0
    backoff_cap_seconds: float = 3600.0
    #: tasks one ``run_once`` handles at most (the loop comes back for the rest)
    max_per_round: int = 200

    @classmethod
    def from_settings(cls, settings: NodeSettings) -> SchedulerOptions:
        return cls(
            catch_up_hours=settings.scheduler_catch_up_hours,
            retry_attempts=settings.scheduler_retry_attempts,
            backoff_base_seconds=settings.scheduler_backoff_base_seconds,
            backoff_cap_seconds=settings.scheduler_backoff_cap_seconds,
        )

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next try after ``attempts`` failed tries (doubling, capped)."""
        seconds = self.backoff_base_seconds * (2 ** max(0, min(attempts - 1, 30)))
        return timedelta(seconds=min(self.backoff_cap_seconds, seconds))


@dataclass(frozen=True)
class RoundResult:
    done: int = 0
    missed: int = 0
    retry_later: int = 0
    failed: int = 0
    deferred: int = 0

    @property
    def handled(self) -> int:
        return self.done + self.missed + self.retry_later + self.failed + self.deferred


def _worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"[:64]


class Scheduler:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        options: SchedulerOptions | None = None,
        worker_id: str | None = None,
    ) -> None:
        # every handler module registers itself on import; imported here, not at module
        # level, so that importing the runner (workers, app) never makes an import cycle
        import municipal_node.scheduler.kinds  # noqa: F401, PLC0415

        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self.options = options or SchedulerOptions()
        self.worker_id = worker_id or _worker_id()
        self.wake = asyncio.Event()
        self.status = "starting"
        #: told the tenant's code after a round that did something (the node wakes that
        #: tenant's planner, so a phase's new send job is planned at once)
        self.on_done: Callable[[str], None] | None = None
        self.last_round: dict[str, RoundResult] = {}

    @staticmethod
    def _due(tenant_code: str, now: datetime) -> Any:
        return select(ScheduledTask.id).where(
            ScheduledTask.tenant_code == tenant_code,
            ScheduledTask.state == TaskState.PENDING,
            ScheduledTask.due_at <= now,
            or_(ScheduledTask.lease_until.is_(None), ScheduledTask.lease_until <= now),
        )

    async def _claim(self, session: AsyncSession, tenant_code: str, now: datetime) -> int | None:
        chosen = (
            self._due(tenant_code, now)
            .order_by(ScheduledTask.due_at, ScheduledTask.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        task_id = await session.scalar(
            update(ScheduledTask)
            .where(
                ScheduledTask.id.in_(chosen.scalar_subquery()),
                ScheduledTask.state == TaskState.PENDING,
            )
            .values(claimed_by=self.worker_id, updated_at=now)
            .returning(ScheduledTask.id)
            .execution_options(synchronize_session=False)
        )
        return None if task_id is None else int(task_id)

    async def run_once(self, tenant_code: str) -> int:
        """Handle the tenant's due tasks (up to ``max_per_round``); how many were handled
        (done, missed, retried later or failed)."""
        result = await self.run_round(tenant_code)
        return result.handled

    async def run_round(self, tenant_code: str) -> RoundResult:
        async with self._sessions() as session:
            if await session.scalar(self._due(tenant_code, self._clock.now()).limit(1)) is None:
                return RoundResult()  # nothing due: no need to open the tenant's secrets
            tenant = await load_config(session, tenant_code, sealer=self._sealer)
        if tenant is None:
            return RoundResult()
        done = missed = retry_later = failed = deferred = 0
        for _ in range(self.options.max_per_round):
            outcome = await self._one(tenant)
            if outcome is None:
                break
            if outcome == TaskState.DONE:
                done += 1
            elif outcome == TaskState.MISSED:
                missed += 1
            elif outcome == TaskState.FAILED:
                failed += 1
            elif outcome == DEFERRED:
                deferred += 1
            else:
                retry_later += 1
        result = RoundResult(done, missed, retry_later, failed, deferred)
        self.last_round[tenant_code] = result
        if done and self.on_done is not None:
            self.on_done(tenant_code)
        return result

    async def _one(self, tenant: TenantConfig) -> str | None:
        """Claim and handle one due task; its new state, or None when nothing is due."""
        now = self._clock.now()
        cutoff = now - timedelta(hours=self.options.catch_up_hours)
        task_id: int | None = None
        kind = key = ""
        attempts = 0
        missing = False
        try:
            async with unit_of_work(self._sessions) as session:
                task_id = await self._claim(session, tenant.code, now)
                if task_id is None:
                    return None
                task = await session.get(ScheduledTask, task_id)
                if task is None:  # pragma: no cover - the claim returned it
                    return None
                kind, key, attempts = task.kind, task.key, task.attempts
                context = TaskContext(session, now, self._clock, self._sealer, tenant)
                if task.attempts == 0 and task.due_at < cutoff:
                    missing = True
                    await self._report_missed(context, task)
                    return TaskState.MISSED
                function = HANDLERS.get(task.kind)
                if function is None:
                    raise LookupError(f"no handler for task kind {task.kind!r}")
                await function(context, task)
                task.state = TaskState.DONE
                task.done_at = now
                task.updated_at = now
                task.last_error = None
                task.lease_until = None
                await session.flush()
                return TaskState.DONE
        except DeferTaskError as deferred:
            if task_id is None:  # pragma: no cover - only a handler raises it
                raise
            return await self._defer(task_id, kind, key, deferred, now)
        except Exception as exc:
            if task_id is None:
                raise
            if missing:
                return await self._missed_without_hook(tenant, task_id, exc)
            return await self._record_failure(tenant.code, task_id, kind, key, attempts, exc, now)

    async def _defer(
        self, task_id: int, kind: str, key: str, deferred: DeferTaskError, now: datetime
    ) -> str:
        async with unit_of_work(self._sessions) as session:
            await session.execute(
                update(ScheduledTask)
                .where(ScheduledTask.id == task_id, ScheduledTask.state == TaskState.PENDING)
                .values(
                    due_at=deferred.until if deferred.until > now else now + timedelta(minutes=1),
                    claimed_by=None,
                    lease_until=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        log.info(
            "scheduled task %s %s deferred to %s: %s",
            kind,
            key,
            deferred.until.isoformat(),
            deferred.reason,
        )
        return DEFERRED

    async def _missed_without_hook(self, tenant: TenantConfig, task_id: int, exc: Exception) -> str:
        """The kind's ``on_missed`` hook raised: the task is reported missed all the same
        (never run late), and the hook's failure is logged."""
        log.error("scheduler: on_missed hook failed: %s", type(exc).__name__, exc_info=exc)
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            task = await session.get(ScheduledTask, task_id)
            if task is None or task.state != TaskState.PENDING:
                return TaskState.MISSED
            context = TaskContext(session, now, self._clock, self._sealer, tenant)
            await self._report_missed(context, task, hook=False)
        return TaskState.MISSED

    async def _report_missed(
        self, context: TaskContext, task: ScheduledTask, *, hook: bool = True
    ) -> None:
        on_missed = MISSED_HOOKS.get(task.kind) if hook else None
        if on_missed is not None:
            await on_missed(context, task)
        task.state = TaskState.MISSED
        task.updated_at = context.now
        task.done_at = context.now
        hours = (context.now - task.due_at).total_seconds() / 3600
        task.last_error = (
            f"実行予定から {hours:.1f} 時間が過ぎていたため実行しませんでした（取り戻し期間 "
            f"{self.options.catch_up_hours:g} 時間）/ not run: due {hours:.1f} h ago, beyond the "
            f"catch-up window of {self.options.catch_up_hours:g} h"
        )
        await audit.record(
            context.session,
            tenant_code=task.tenant_code,
            actor=ACTOR,
            action="scheduler.task_missed",
            at=context.now,
            count=1,
            detail={"kind": task.kind, "key": task.key, "due_at": task.due_at.isoformat()},
        )
        await context.session.flush()
        log.warning(
            "tenant %s: scheduled task %s %s missed (due %s, %.1f h ago; catch-up window %g h)",
            task.tenant_code,
            task.kind,
            task.key,
            task.due_at.isoformat(),
            hours,
            self.options.catch_up_hours,
        )

    async def _record_failure(
        self,
        tenant_code: str,
        task_id: int,
        kind: str,
        key: str,
        attempts: int,
        exc: Exception,
        now: datetime,
    ) -> str:
        attempts += 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        give_up = attempts >= self.options.retry_attempts
        state = TaskState.FAILED if give_up else TaskState.PENDING
        async with unit_of_work(self._sessions) as session:
            await session.execute(
                update(ScheduledTask)
                .where(ScheduledTask.id == task_id, ScheduledTask.state == TaskState.PENDING)
                .values(
                    state=state,
                    attempts=attempts,
                    last_error=error,
                    claimed_by=None,
                    lease_until=None if give_up else now + self.options.backoff(attempts),
                    updated_at=now,
                    done_at=now if give_up else None,
                )
                .execution_options(synchronize_session=False)
            )
            if give_up:
                await audit.record(
                    session,
                    tenant_code=tenant_code,
                    actor=ACTOR,
                    action="scheduler.task_failed",
                    at=now,
                    count=1,
                    detail={"kind": kind, "key": key, "attempts": attempts},
                )
        if give_up:
            log.error(
                "tenant %s: scheduled task %s %s failed for good after %d attempts: %s",
                tenant_code,
                kind,
                key,
                attempts,
                type(exc).__name__,
                exc_info=exc,
            )
        else:
            log.warning(
                "tenant %s: scheduled task %s %s failed (attempt %d), retried later: %s",
                tenant_code,
                kind,
                key,
                attempts,
                type(exc).__name__,
                exc_info=exc,
            )
        return state

    async def run_all(self) -> int:
        """One round over every tenant."""
        async with self._sessions() as session:
            codes = await tenants.list_codes(session)
        handled = 0
        for code in codes:
            handled += await self.run_once(code)
        return handled

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Until ``stop``: a round over every tenant every ``interval`` seconds (or on ``wake``)."""
        self.status = "running"
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.run_all()
                self.status = "running"
            except Exception:
                self.status = "retrying: unexpected error"
                log.exception("scheduler: unexpected error")
            stop_wait = asyncio.create_task(stop.wait())
            wake_wait = asyncio.create_task(self.wake.wait())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(
                    {stop_wait, wake_wait}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                )
            for task in (stop_wait, wake_wait):
                task.cancel()
        self.status = "stopped"
