"""Re-seal every registered sealed column under the current key (``todoke node rotate-key``).

Per column: select, in primary-key order, rows whose blob does not start with the current
key's prefix (version 2 + current key id) — so already re-sealed rows cost nothing and a
second run resumes where an interrupted one stopped — open each with the keyring, seal it again
and write it back only if nobody changed it meanwhile. Each batch is its own transaction.
Blobs that do not open are counted, never rewritten: under an unknown key id (named in the
result) or not opening at all (wrong row or tampering).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, column, func, select, table, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.audit import repository as audit
from municipal_node.crypto import DecryptionError, Sealer, UnknownKeyError
from municipal_node.db.engine import unit_of_work
from municipal_node.privacy.sealed_columns import SealedColumn, sealed_columns

DEFAULT_BATCH = 500


@dataclass
class ColumnResult:
    name: str
    resealed: int = 0
    #: key id → blobs sealed under a key that is not configured
    unknown_keys: Counter[str] = field(default_factory=Counter)
    #: blobs that opened with no configured key (or not for their row)
    unreadable: int = 0
    #: blobs still not under the current key after the run
    remaining: int = 0

    @property
    def problems(self) -> int:
        return sum(self.unknown_keys.values()) + self.unreadable


def _table(entry: SealedColumn) -> Any:
    names = dict.fromkeys(
        (*entry.key_columns, *entry.aad_columns, entry.column, *entry.clear_on_reseal)
    )
    return table(entry.table, *(column(name) for name in names))


def _not_current(entry: SealedColumn, sealed: Any, sealer: Sealer) -> Any:
    prefix = sealer.current_prefix
    return and_(sealed.is_not(None), func.substr(sealed, 1, len(prefix)) != prefix)


async def _count_not_current(session: AsyncSession, entry: SealedColumn, sealer: Sealer) -> int:
    t = _table(entry)
    value = await session.scalar(
        select(func.count()).select_from(t).where(_not_current(entry, t.c[entry.column], sealer))
    )
    return int(value or 0)


async def rotate_column(
    sessions: async_sessionmaker[AsyncSession],
    *,
    sealer: Sealer,
    entry: SealedColumn,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[ColumnResult], None] | None = None,
) -> ColumnResult:
    result = ColumnResult(entry.name)
    t = _table(entry)
    keys = [t.c[name] for name in entry.key_columns]
    sealed = t.c[entry.column]
    rewrite = (
        update(t)
        .where(
            *(key == bindparam(f"k_{key.name}") for key in keys),
            sealed == bindparam("old_blob"),
        )
        .values({entry.column: bindparam("new_blob"), **dict.fromkeys(entry.clear_on_reseal)})
    )
    after: tuple[Any, ...] | None = None
    while True:
        query = (
            select(*t.c)
            .where(_not_current(entry, sealed, sealer))
            .order_by(*keys)
            .limit(batch_size)
        )
        if after is not None:
            query = query.where(tuple_(*keys) > tuple_(*after))
        async with unit_of_work(sessions) as session:
            rows = [dict(row._mapping) for row in await session.execute(query)]
            if not rows:
                break
            changes = []
            for row in rows:
                blob = bytes(row[entry.column])
                aad = entry.aad(row).encode("utf-8")
                try:
                    plaintext = sealer.open(blob, aad=aad)
                except UnknownKeyError as exc:
                    result.unknown_keys[exc.key_id] += 1
                    continue
                except DecryptionError:
                    result.unreadable += 1
                    continue
                changes.append(
                    {
                        **{f"k_{key.name}": row[key.name] for key in keys},
                        "old_blob": blob,
                        "new_blob": sealer.seal(plaintext, aad=aad),
                    }
                )
            if changes:
                await session.execute(rewrite, changes)
            result.resealed += len(changes)
            after = tuple(rows[-1][name] for name in entry.key_columns)
        if on_batch is not None:
            on_batch(result)
    async with sessions() as session:
        result.remaining = await _count_not_current(session, entry, sealer)
    return result


async def rotate_all(
    sessions: async_sessionmaker[AsyncSession],
    *,
    sealer: Sealer,
    actor: str,
    now: datetime,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[ColumnResult], None] | None = None,
) -> list[ColumnResult]:
    """Rotate every registered column; one audit row with the counts."""
    results = [
        await rotate_column(
            sessions, sealer=sealer, entry=entry, batch_size=batch_size, on_batch=on_batch
        )
        for entry in sealed_columns()
    ]
    async with unit_of_work(sessions) as session:
        await audit.record(
            session,
            tenant_code=None,
            actor=actor,
            action="privacy.rotate_key",
            at=now,
            count=sum(r.resealed for r in results),
            detail={
                "key_id": sealer.key_id,
                "columns": {
                    r.name: {
                        "resealed": r.resealed,
                        "unknown_keys": dict(r.unknown_keys),
                        "unreadable": r.unreadable,
                        "remaining": r.remaining,
                    }
                    for r in results
                },
            },
        )
    return results
