"""The hub's database engine."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hub.db import PLAN_CACHE_MODE, create_engine
from tests.fixtures.database import backend


@pytest.mark.skipif(backend() != "postgresql", reason="a PostgreSQL planner setting")
async def test_postgresql_sessions_plan_every_statement_for_its_values(database_url: str) -> None:
    """No generic plan cached while a table was small goes on scanning it once it is large."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            mode = (await connection.execute(sa.text("SHOW plan_cache_mode"))).scalar_one()
    finally:
        await engine.dispose()
    assert mode == PLAN_CACHE_MODE == "force_custom_plan"
