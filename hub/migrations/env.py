"""Alembic environment of the hub. Run programmatically: see ``hub.db.upgrade_to_head``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from hub.models import metadata

target_metadata = metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, sa.Connection):
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given; use hub.db.upgrade_to_head(url)")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
