from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.database import backend, create_database

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


# --- `make test`: one suite, two backends, nothing run twice for no reason ------------------
#
# `make test` runs the suite on SQLite and then on PostgreSQL with TODOKE_TEST_SPLIT=1:
# - a test that touches no database (no ``database_url`` fixture, directly or through another
#   fixture) behaves the same on both, so it runs in the SQLite pass only;
# - the end-to-end tests (tests/e2e: real processes, kill -9, multi-process dispatch, hub
#   replicas) that use a database run in the PostgreSQL pass only, on the backend a deployment
#   runs them on; the SQLite path of the same processes is what `make demo` runs in CI.
# Without TODOKE_TEST_SPLIT (`make test-sqlite`, `make test-postgres`, plain pytest) every
# test runs on the chosen backend.
DATABASE_FIXTURES = frozenset({"database_url", "second_database_url"})


def _split_out(item: pytest.Item, backend_name: str) -> bool:
    uses_database = not DATABASE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
    if backend_name == "postgresql":
        return not uses_database
    end_to_end = Path(str(item.fspath)).resolve().is_relative_to(Path(__file__).parent / "e2e")
    return end_to_end and uses_database


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TODOKE_TEST_SPLIT", "") != "1":
        return
    backend_name = backend()
    kept, dropped = [], []
    for item in items:
        (dropped if _split_out(item, backend_name) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
