from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from municipal_node.db.engine import sync_url
from municipal_node.db.metadata import metadata
from municipal_node.db.migrate import upgrade_to_head


def test_migrations_at_head_match_the_models(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_twice_is_harmless_and_creates_every_table(database_url: str) -> None:
    upgrade_to_head(database_url)
    upgrade_to_head(database_url)
    engine = create_engine(sync_url(database_url))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables
