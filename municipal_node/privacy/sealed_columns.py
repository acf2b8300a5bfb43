"""The registry of sealed columns: everything ``todoke node rotate-key`` re-seals.

A sealed column holds AES-GCM blobs (``municipal_node.crypto.Sealer``) whose associated data
is computed from other columns of the same row. Register one with ``register_sealed_column``
at import time of a module that ``municipal_node.db.metadata`` imports (e.g. your models), or
add it to ``municipal_node.privacy.builtin``. ``unregistered_sealed_columns`` finds binary
columns named like sealed ones that nobody registered (rotation refuses to call itself complete).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import LargeBinary, MetaData

#: row values (key, aad and sealed columns by name) → associated data
AadFunction = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class SealedColumn:
    table: str
    #: the primary key: identifies the row to rewrite, and orders the batches
    key_columns: tuple[str, ...]
    column: str
    aad: AadFunction
    #: further columns ``aad`` reads
    aad_columns: tuple[str, ...] = ()
    #: columns derived with the old key (e.g. a keyed digest): set to NULL when re-sealed
    clear_on_reseal: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


_REGISTRY: dict[str, SealedColumn] = {}


def register_sealed_column(
    table: str,
    key_columns: tuple[str, ...],
    column: str,
    aad: AadFunction,
    *,
    aad_columns: tuple[str, ...] = (),
    clear_on_reseal: tuple[str, ...] = (),
) -> SealedColumn:
    """Register (or replace: the owner of a table may take over its entry) a sealed column."""
    if not key_columns:
        raise ValueError(f"{table}.{column}: key columns are required")
    entry = SealedColumn(
        table, tuple(key_columns), column, aad, tuple(aad_columns), clear_on_reseal
    )
    _REGISTRY[entry.name] = entry
    return entry


def sealed_columns() -> tuple[SealedColumn, ...]:
    """Every registered column (models and built-in registrations loaded), by name."""
    importlib.import_module("municipal_node.db.metadata")
    importlib.import_module("municipal_node.privacy.builtin")
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))


def unregistered_sealed_columns(metadata: MetaData) -> list[str]:
    """Binary columns called ``sealed`` or ``*_sealed`` that no registration covers."""
    known = {entry.name for entry in sealed_columns()}
    found = []
    for table in metadata.tables.values():
        for column in table.columns:
            named = column.name == "sealed" or column.name.endswith("_sealed")
            if named and isinstance(column.type, LargeBinary):
                if f"{table.name}.{column.name}" not in known:
                    found.append(f"{table.name}.{column.name}")
    return sorted(found)
