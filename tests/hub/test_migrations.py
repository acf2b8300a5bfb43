"""Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.db import alembic_config, current_revision, sync_url, upgrade_to_head
from hub.models import metadata
from tests.fixtures.database import backend


def test_models_and_migrations_agree(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_seeds_the_sequence(database_url: str) -> None:
    upgrade_to_head(database_url)
    upgrade_to_head(database_url)
    assert (
        current_revision(database_url)
        == ScriptDirectory.from_config(alembic_config()).get_current_head()
    )
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, last_seq FROM notice_sequence")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 0)]


def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables <= {"alembic_version"}


@pytest.mark.skipif(backend() != "postgresql", reason="a PostgreSQL storage parameter (TOAST)")
def test_notices_stay_inline_on_postgresql(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            options = connection.execute(
                sa.text("SELECT reloptions FROM pg_class WHERE relname = 'notices'")
            ).scalar_one()
            assert options == ["toast_tuple_target=8160"]
            command.downgrade(alembic_config(connection), "0003")
            options = connection.execute(
                sa.text("SELECT reloptions FROM pg_class WHERE relname = 'notices'")
            ).scalar_one()
            assert options is None
    finally:
        engine.dispose()
