"""Resident import: validate everything first, then replace the tenant's list in one go."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.audit import repository as audit
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.residents import csv_format, repository
from municipal_node.residents.csv_format import CsvIssue, ResidentRow
from municipal_node.residents.schemas import seal_attributes
from municipal_node.tenants import repository as tenants

BATCH_SIZE = 1000


class UnknownTenantError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"テナント {code} は登録されていません / unknown tenant {code}")
        self.code = code


class CsvRejectedError(Exception):
    """The file has bad lines; nothing was imported."""

    def __init__(self, issues: list[CsvIssue]) -> None:
        super().__init__(f"{len(issues)} problem(s) in the CSV; nothing imported")
        self.issues = issues


@dataclass(frozen=True)
class ImportSummary:
    import_id: str
    rows: int
    inserted: int
    updated: int
    removed: int


def _batches(path: Path) -> Iterator[list[ResidentRow]]:
    with path.open("rb") as stream:
        rows = csv_format.iter_rows(stream)
        while batch := list(islice(rows, BATCH_SIZE)):
            yield batch


def _seal_batch(
    sealer: Sealer, tenant_code: str, import_id: str, now: datetime, batch: list[ResidentRow]
) -> list[dict[str, Any]]:
    return [
        {
            "tenant_code": tenant_code,
            "resident_id": row.resident_id,
            "sealed": seal_attributes(
                sealer,
                tenant_code=tenant_code,
                resident_id=row.resident_id,
                attributes=row.attributes,
            ),
            "district": row.district,
            "line_user_id": row.line_user_id,
            "import_id": import_id,
            "updated_at": now,
        }
        for row in batch
    ]


async def import_csv(
    sessions: async_sessionmaker[AsyncSession],
    *,
    sealer: Sealer,
    tenant_code: str,
    path: Path,
    actor: str,
    now: datetime,
) -> ImportSummary:
    """Validate ``path``; raise ``CsvRejectedError`` with every issue, or import it all."""
    async with sessions() as session:
        if await tenants.get(session, tenant_code) is None:
            raise UnknownTenantError(tenant_code)
    report = await asyncio.to_thread(csv_format.validate, path)
    if not report.ok:
        raise CsvRejectedError(report.issues)
    import_id = str(uuid.uuid4())
    rows = inserted = updated = 0
    async with unit_of_work(sessions) as session:
        await repository.unlink_all_line_users(session, tenant_code)
        batches = _batches(path)
        while True:
            batch = await asyncio.to_thread(next, batches, None)
            if batch is None:
                break
            existing = await repository.existing_ids(
                session, tenant_code, [row.resident_id for row in batch]
            )
            values = await asyncio.to_thread(
                _seal_batch, sealer, tenant_code, import_id, now, batch
            )
            await repository.upsert_many(session, values)
            rows += len(batch)
            updated += len(existing)
            inserted += len(batch) - len(existing)
        removed = await repository.remove_not_in_import(session, tenant_code, import_id)
        await audit.record(
            session,
            tenant_code=tenant_code,
            actor=actor,
            action="residents.import",
            at=now,
            count=rows,
            detail={"inserted": inserted, "updated": updated, "removed": removed},
        )
    return ImportSummary(import_id, rows, inserted, updated, removed)
