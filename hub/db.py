"""Database plumbing of the hub: the declarative base, URLs, engines and Alembic upgrades.

URLs are configured plain (``sqlite:///hub.db``, ``postgresql://…``). The service runs on
SQLAlchemy's async drivers (aiosqlite, psycopg); Alembic runs on the matching sync drivers.
On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so concurrent writers queue on the
database lock (with a busy timeout) instead of failing when a reader tries to upgrade its lock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30
PLAN_CACHE_MODE = "force_custom_plan"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no offset, so we restore it)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _split(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    return scheme.split("+", 1)[0], rest


def async_url(url: str) -> str:
    """``sqlite:///x.db`` → ``sqlite+aiosqlite:///x.db``; ``postgresql://`` → ``postgresql+psycopg://``."""
    backend, rest = _split(url)
    if backend == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if backend in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported database (use sqlite:/// or postgresql://): {backend}")


def sync_url(url: str) -> str:
    """The URL for Alembic and other synchronous tools (``sqlite:///``, ``postgresql+psycopg://``)."""
    backend, rest = _split(url)
    if backend == "sqlite":
        return f"sqlite://{rest}"
    if backend in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported database (use sqlite:/// or postgresql://): {backend}")


def _serialize_sqlite_writers(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    """The service's async engine for a plain URL."""
    full = async_url(url)
    if full.startswith("sqlite"):
        engine = create_async_engine(full, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        _serialize_sqlite_writers(engine.sync_engine)
        return engine
    # Custom plans: the hub's tables grow from empty by orders of magnitude, and a generic plan
    # PostgreSQL cached for a statement (psycopg prepares it on its fifth use) while a table was
    # small went on scanning it until the next autoanalyze: ingest slowed as notices accumulated
    # (bench/hub_fanout.py: PostgreSQL's CPU per notice halved, docs/BENCHMARKS.md).
    return create_async_engine(
        full, pool_pre_ping=True, connect_args={"options": f"-c plan_cache_mode={PLAN_CACHE_MODE}"}
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(url: str) -> None:
    """Apply every migration not yet applied (synchronous; run it in a thread from async code)."""
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
