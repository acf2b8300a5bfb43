"""Dialect-specific INSERT ... ON CONFLICT, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, model: type[Any]) -> Any:
    """An ``Insert`` into ``model``'s table that supports ``on_conflict_do_nothing`` /
    ``on_conflict_do_update`` on the session's backend."""
    dialect_name = session.get_bind().dialect.name
    if dialect_name == "postgresql":
        return postgresql.insert(model)
    if dialect_name == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"unsupported dialect {dialect_name!r}")
