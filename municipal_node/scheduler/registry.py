"""Handlers of scheduled tasks, by ``kind``. A module registers its handler with
``@handler("campaign_phase")``; ``municipal_node.scheduler.kinds`` imports every such module.

A handler runs inside the claim's transaction (``TaskContext.session``): its writes are
committed together with the task being marked done, or rolled back when it raises (the task is
then retried later). ``@on_missed(kind)`` registers what to do when a task of that kind was due
while the node was down for longer than the catch-up window (it is not run; the hook records
why, e.g. a campaign phase becomes ``missed``), in the same transaction that marks it missed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.scheduler.models import ScheduledTask
from municipal_node.tenants.schemas import TenantConfig


@dataclass(frozen=True)
class TaskContext:
    #: the claim's transaction; committed after the handler returns
    session: AsyncSession
    now: datetime
    clock: Clock
    sealer: Sealer
    tenant: TenantConfig


Handler = Callable[[TaskContext, ScheduledTask], Awaitable[None]]


class DeferTaskError(Exception):
    """Raised by a handler that may not act now (e.g. a late campaign phase inside quiet
    hours): its writes are rolled back and the task waits until ``until`` — not an error, the
    count of attempts is unchanged."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


HANDLERS: dict[str, Handler] = {}
MISSED_HOOKS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the handler of ``kind`` (one per kind)."""

    def register(function: Handler) -> Handler:
        existing = HANDLERS.get(kind)
        if existing is not None and existing is not function:
            raise ValueError(f"a handler for task kind {kind!r} is registered already")
        HANDLERS[kind] = function
        return function

    return register


def on_missed(kind: str) -> Callable[[Handler], Handler]:
    """Register the hook told when a task of ``kind`` is reported missed (optional)."""

    def register(function: Handler) -> Handler:
        MISSED_HOOKS[kind] = function
        return function

    return register
