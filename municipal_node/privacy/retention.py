"""Retention: delete or blank what is no longer needed (``todoke node purge``, daily in a node).

A policy is a name, the ``NodeSettings`` field holding its number of days (0 = keep forever)
and a ``purge(session, cutoff, dry_run)`` that acts on (or, dry, counts) rows older than
``cutoff`` and returns how many. Register one with ``register_retention_policy`` at import time
of a module that ``municipal_node.db.metadata`` imports, or in ``municipal_node.privacy.policies``
(the built-in ones). Each policy runs in its own transaction; a real purge writes one audit
row with the counts.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.audit import repository as audit
from municipal_node.db.engine import unit_of_work
from municipal_node.settings import NodeSettings

#: (session, cutoff, dry_run) → rows purged (or that a real run would purge)
PurgeFunction = Callable[[AsyncSession, datetime, bool], Awaitable[int]]


@dataclass(frozen=True)
class RetentionPolicy:
    name: str
    #: the ``NodeSettings`` field with the number of days (0: the policy is off)
    setting: str
    purge: PurgeFunction
    description: str = ""


@dataclass(frozen=True)
class PolicyResult:
    name: str
    days: int
    #: rows purged (dry run: that would be); None when the policy is off
    count: int | None
    description: str = ""


_REGISTRY: dict[str, RetentionPolicy] = {}


def register_retention_policy(
    name: str, setting: str, purge: PurgeFunction, *, description: str = ""
) -> RetentionPolicy:
    """Register (or replace: the owner of a table may take over its policy) a policy."""
    if setting not in NodeSettings.model_fields:
        raise ValueError(f"retention policy {name}: NodeSettings has no field {setting!r}")
    policy = RetentionPolicy(name, setting, purge, description)
    _REGISTRY[name] = policy
    return policy


def retention_policies() -> tuple[RetentionPolicy, ...]:
    importlib.import_module("municipal_node.db.metadata")
    importlib.import_module("municipal_node.privacy.policies")
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: NodeSettings,
    now: datetime,
    actor: str,
    dry_run: bool = False,
) -> list[PolicyResult]:
    results: list[PolicyResult] = []
    for policy in retention_policies():
        days = int(getattr(settings, policy.setting))
        if days <= 0:
            results.append(PolicyResult(policy.name, days, None, policy.description))
            continue
        async with unit_of_work(sessions) as session:
            count = await policy.purge(session, now - timedelta(days=days), dry_run)
        results.append(PolicyResult(policy.name, days, count, policy.description))
    if not dry_run:
        async with unit_of_work(sessions) as session:
            await audit.record(
                session,
                tenant_code=None,
                actor=actor,
                action="privacy.purge",
                at=now,
                count=sum(r.count or 0 for r in results),
                detail={r.name: r.count for r in results},
            )
    return results
