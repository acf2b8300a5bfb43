"""Every query on ``residents``, and the import's staging table.

An import loads the file's good rows into a temporary table (``COPY`` on PostgreSQL, batched
inserts on SQLite), then applies it with a few set-based statements: remove residents the file
no longer has, free LINE ids that move to another record, upsert only rows whose keyed digest
or CSV link differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    CursorResult,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.db.base import UTCDateTime
from municipal_node.db.upsert import insert_for
from municipal_node.line.models import LineFriend
from municipal_node.residents.models import Resident
from municipal_node.tenants.models import Tenant

#: one staged row: (resident_id, line, digest, sealed, district, line_user_id)
StagedRow = tuple[str, int, str, bytes, str, str | None]

STAGE = Table(
    "resident_import_stage",
    MetaData(),
    Column("resident_id", String(64), nullable=False),
    Column("line", Integer, nullable=False),
    Column("digest", String(32), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("district", String(64), nullable=False),
    Column("line_user_id", String(33)),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_STAGE_COLUMNS = ("resident_id", "line", "digest", "sealed", "district", "line_user_id")
#: residents on bad lines left out with ``skip_bad``: kept exactly as they are
KEEP = Table(
    "resident_import_keep",
    MetaData(),
    Column("resident_id", String(64), primary_key=True),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def lock_tenant(session: AsyncSession, tenant_code: str) -> bool:
    """Serialise imports of one tenant (a transaction-scoped advisory lock on PostgreSQL, so
    nothing else that touches the tenant row waits); False if there is no such tenant."""
    if _is_postgres(session):
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"todoke.residents:{tenant_code}")))
        )
    found = await session.scalar(select(Tenant.code).where(Tenant.code == tenant_code))
    return found is not None


async def create_stage(session: AsyncSession) -> None:
    """An empty staging table for this transaction (dropped at commit on PostgreSQL)."""
    name = STAGE.name if _is_postgres(session) else f"temp.{STAGE.name}"
    await session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    await session.run_sync(lambda sync: STAGE.create(sync.connection()))


async def drop_stage(session: AsyncSession) -> None:
    if not _is_postgres(session):
        await session.execute(text(f"DROP TABLE IF EXISTS temp.{STAGE.name}"))
        await session.execute(text(f"DROP TABLE IF EXISTS temp.{KEEP.name}"))


async def keep_residents(session: AsyncSession, resident_ids: Iterable[str]) -> None:
    """Residents ``remove_absent`` must leave alone (their lines were bad and skipped)."""
    name = KEEP.name if _is_postgres(session) else f"temp.{KEEP.name}"
    await session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    await session.run_sync(lambda sync: KEEP.create(sync.connection()))
    chosen = sorted(set(resident_ids))
    for start in range(0, len(chosen), 1000):
        await session.execute(
            KEEP.insert(), [{"resident_id": rid} for rid in chosen[start : start + 1000]]
        )


async def staged_ids_of_lines(session: AsyncSession, lines: Iterable[int]) -> set[str]:
    chosen = list(lines)
    found: set[str] = set()
    for start in range(0, len(chosen), 1000):
        found.update(
            await session.scalars(
                select(STAGE.c.resident_id).where(STAGE.c.line.in_(chosen[start : start + 1000]))
            )
        )
    return found


async def stage_rows(session: AsyncSession, rows: Sequence[StagedRow]) -> None:
    if not rows:
        return
    if not _is_postgres(session):
        await session.execute(
            STAGE.insert(), [dict(zip(_STAGE_COLUMNS, row, strict=True)) for row in rows]
        )
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    columns = ", ".join(_STAGE_COLUMNS)
    async with driver.cursor() as cursor:
        async with cursor.copy(f"COPY {STAGE.name} ({columns}) FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(row)


async def index_stage(session: AsyncSession) -> None:
    """Index the loaded staging table (faster than indexing while loading) and give the
    planner its size (temporary tables have no statistics)."""
    schema = "" if _is_postgres(session) else "temp."
    for column_name in ("resident_id", "line", "line_user_id"):
        await session.execute(
            text(
                f"CREATE INDEX {schema}ix_{STAGE.name}_{column_name} "
                f"ON {STAGE.name} ({column_name})"
            )
        )
    if _is_postgres(session):
        await session.execute(text(f"ANALYZE {STAGE.name}"))


async def repeated(session: AsyncSession, column_name: str) -> list[tuple[int, int]]:
    """(line, first line) of staged rows repeating the value of ``column_name`` of an earlier
    staged row (NULLs never repeat)."""
    value = STAGE.c[column_name]
    first = (
        select(value.label("value"), func.min(STAGE.c.line).label("first"))
        .where(value.is_not(None))
        .group_by(value)
        .having(func.count() > 1)
        .subquery()
    )
    query = (
        select(STAGE.c.line, first.c.first)
        .join(first, value == first.c.value)
        .where(STAGE.c.line != first.c.first)
        .order_by(STAGE.c.line)
    )
    return [(int(line), int(first_line)) for line, first_line in await session.execute(query)]


async def link_conflicts(session: AsyncSession, tenant_code: str) -> list[tuple[int, int]]:
    """(line, other line) of staged rows whose CSV ``line_user_id`` is linked now to another
    staged resident whose line leaves the link as it is (empty ``line_user_id``)."""
    other = STAGE.alias("other")
    query = (
        select(STAGE.c.line, other.c.line)
        .select_from(STAGE)
        .join(
            Resident,
            and_(
                Resident.tenant_code == tenant_code,
                Resident.line_user_id == STAGE.c.line_user_id,
                Resident.resident_id != STAGE.c.resident_id,
            ),
        )
        .join(
            other,
            and_(other.c.resident_id == Resident.resident_id, other.c.line_user_id.is_(None)),
        )
        .order_by(STAGE.c.line)
    )
    return [(int(line), int(other_line)) for line, other_line in await session.execute(query)]


async def unstage_lines(session: AsyncSession, lines: Iterable[int]) -> None:
    chosen = list(lines)
    for start in range(0, len(chosen), 1000):
        await session.execute(delete(STAGE).where(STAGE.c.line.in_(chosen[start : start + 1000])))


def _stored(tenant_code: str) -> Any:
    return and_(Resident.tenant_code == tenant_code, Resident.resident_id == STAGE.c.resident_id)


async def count_new(session: AsyncSession, tenant_code: str) -> int:
    value = await session.scalar(
        select(func.count()).select_from(STAGE).where(~exists().where(_stored(tenant_code)))
    )
    return int(value or 0)


async def remove_absent(session: AsyncSession, tenant_code: str) -> int:
    """Delete the tenant's residents that are neither staged nor kept (``keep_residents``)."""
    result = await session.execute(
        delete(Resident)
        .where(
            Resident.tenant_code == tenant_code,
            ~exists().where(STAGE.c.resident_id == Resident.resident_id),
            ~exists().where(KEEP.c.resident_id == Resident.resident_id),
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def release_moving_links(session: AsyncSession, tenant_code: str) -> None:
    """Clear links that the file moves to another LINE user, so the unique key holds while
    another record takes the old one in the upsert."""
    await session.execute(
        update(Resident)
        .where(
            Resident.tenant_code == tenant_code,
            Resident.line_user_id.is_not(None),
            exists().where(
                STAGE.c.resident_id == Resident.resident_id,
                STAGE.c.line_user_id.is_not(None),
                STAGE.c.line_user_id != Resident.line_user_id,
            ),
        )
        .values(line_user_id=None)
        .execution_options(synchronize_session=False)
    )


#: a slice of the staged rows by resident id: (after, up to), None = open end
KeyRange = tuple[str | None, str | None]


async def stage_slices(session: AsyncSession, size: int) -> list[KeyRange]:
    """Consecutive resident-id ranges of ``size`` staged rows each (the last may be shorter)."""
    ranked = select(
        STAGE.c.resident_id, func.row_number().over(order_by=STAGE.c.resident_id).label("n")
    ).subquery()
    bounds = list(
        await session.scalars(
            select(ranked.c.resident_id)
            .where(ranked.c.n % size == 0)
            .order_by(ranked.c.resident_id)
        )
    )
    edges: list[str | None] = [None, *bounds, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _in_range(key: Any, keys: KeyRange) -> list[Any]:
    after, upto = keys
    return [
        *([] if after is None else [key > after]),
        *([] if upto is None else [key <= upto]),
    ]


async def upsert_changed(
    session: AsyncSession, tenant_code: str, now: datetime, *, keys: KeyRange
) -> int:
    """Insert new residents and rewrite changed ones among the staged rows in ``keys``; an
    empty CSV link keeps the current one. Returns the rows written. The range bounds both
    sides of the join, so each slice reads only its own residents."""
    changed = or_(
        Resident.resident_id.is_(None),
        Resident.digest.is_(None),
        Resident.digest != STAGE.c.digest,
        and_(
            STAGE.c.line_user_id.is_not(None),
            or_(Resident.line_user_id.is_(None), Resident.line_user_id != STAGE.c.line_user_id),
        ),
    )
    source = (
        select(
            literal(tenant_code, String(5)),
            STAGE.c.resident_id,
            STAGE.c.sealed,
            STAGE.c.district,
            func.coalesce(STAGE.c.line_user_id, Resident.line_user_id),
            STAGE.c.digest,
            literal(now, UTCDateTime()),
        )
        .select_from(
            STAGE.outerjoin(
                Resident, and_(_stored(tenant_code), *_in_range(Resident.resident_id, keys))
            )
        )
        .where(*_in_range(STAGE.c.resident_id, keys), changed)
    )
    stmt = insert_for(session, Resident).from_select(
        [
            "tenant_code",
            "resident_id",
            "sealed",
            "district",
            "line_user_id",
            "digest",
            "updated_at",
        ],
        source,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_code", "resident_id"],
        set_={
            "sealed": stmt.excluded.sealed,
            "district": stmt.excluded.district,
            "line_user_id": stmt.excluded.line_user_id,
            "digest": stmt.excluded.digest,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    result = await session.execute(stmt.execution_options(preserve_rowcount=True))
    return _rowcount(result)


async def count(session: AsyncSession, tenant_code: str) -> int:
    value = await session.scalar(
        select(func.count()).select_from(Resident).where(Resident.tenant_code == tenant_code)
    )
    return int(value or 0)


async def friend_residents_page(
    session: AsyncSession, tenant_code: str, *, after: str | None, limit: int
) -> list[tuple[str, str, bytes]]:
    """(resident_id, line_user_id, sealed) of residents whose LINE user is a friend now,
    ordered by resident_id, starting after ``after`` (keyset pagination)."""
    query = (
        select(Resident.resident_id, Resident.line_user_id, Resident.sealed)
        .join(
            LineFriend,
            (LineFriend.tenant_code == Resident.tenant_code)
            & (LineFriend.user_id == Resident.line_user_id),
        )
        .where(Resident.tenant_code == tenant_code, LineFriend.is_friend.is_(True))
        .order_by(Resident.resident_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Resident.resident_id > after)
    result = await session.execute(query)
    return [(rid, str(uid), sealed) for rid, uid, sealed in result]


async def sealed_by_line_user(
    session: AsyncSession, tenant_code: str, user_ids: Sequence[str]
) -> list[tuple[str, bytes]]:
    """(resident_id, sealed) of the residents linked to these LINE users."""
    if not user_ids:
        return []
    result = await session.execute(
        select(Resident.resident_id, Resident.sealed).where(
            Resident.tenant_code == tenant_code, Resident.line_user_id.in_(user_ids)
        )
    )
    return [(resident_id, sealed) for resident_id, sealed in result]
