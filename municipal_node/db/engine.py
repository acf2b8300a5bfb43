"""Engines and units of work."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry


def _split(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    return scheme.split("+", 1)[0], rest


def async_url(url: str) -> str:
    """``sqlite:///x`` → ``sqlite+aiosqlite:///x``; ``postgresql://`` → ``postgresql+psycopg://``."""
    backend, rest = _split(url)
    if backend == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if backend in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported database backend {backend!r} (sqlite or postgresql)")


def sync_url(url: str) -> str:
    backend, rest = _split(url)
    if backend == "sqlite":
        return f"sqlite://{rest}"
    if backend in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported database backend {backend!r} (sqlite or postgresql)")


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: driver loggers that would write statement parameters (personal data) at DEBUG
_PARAMETER_LOGGERS = ("aiosqlite",)


def _keep_parameters_out_of_logs() -> None:
    """SQL parameters carry resident ids, districts, LINE user ids: SQLAlchemy hides them
    (``hide_parameters``); aiosqlite logs every call with its arguments at DEBUG, so its
    logger never goes below INFO, whatever the root level."""
    for name in _PARAMETER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


def create_engine(url: str) -> AsyncEngine:
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if _split(url)[0] == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    _keep_parameters_out_of_logs()
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: commit when the block succeeds, roll back when it raises."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
