from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.database import create_database

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database (SQLite file or PostgreSQL database, per TODOKE_TEST_DB)."""
    yield from create_database(tmp_path, "main")


@pytest.fixture
def second_database_url(tmp_path: Path) -> Iterator[str]:
    """Another new, empty database, for tests that run a hub and a node side by side."""
    yield from create_database(tmp_path, "second")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project; tests that need it skip with a reason when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (a fresh clone without shared/); CI always has it")
    return SHARED
