"""Resident import: validate the whole file, then make the tenant's list equal to its good rows.

All in one transaction (nothing changes unless it commits):

1. One streaming pass validates every line and stages the good rows, sealed and with a keyed
   digest, in a temporary table (parsing and sealing in a thread). A file-level problem (header,
   CSV syntax) refuses the file.
2. A CSV link that clashes with a link another staying record keeps (ID連携, empty
   ``line_user_id`` on that record's line) makes its line bad too.
3. Any bad line refuses the whole file, unless ``skip_bad``: then bad lines are left out and
   counted, but a file with more than ``max_bad_share`` bad lines is refused (a broken export
   must not empty the list). A resident whose id is readable on a bad line is kept exactly as
   it is (not updated, not removed: a typo in one field must not delete a record and its
   ID連携 link); a bad line without a readable id cannot be matched to anyone.
4. Apply: remove residents absent from the good rows, upsert only new or changed rows (an empty
   CSV ``line_user_id`` leaves an existing link alone), one audit row with the counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.audit import repository as audit
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.residents import repository, validation
from municipal_node.residents.csv_format import CsvIssue, ResidentRow
from municipal_node.residents.repository import StagedRow
from municipal_node.residents.schemas import resident_aad
from municipal_node.residents.validation import RecordProgress, ValidationReport

BATCH_SIZE = 5000
#: staged rows per upsert statement (progress steps)
APPLY_ROWS = 20_000
DEFAULT_MAX_BAD_SHARE = 0.10

#: ``progress(phase, done, total)``; phase ``"validate"`` (records read, total estimated from
#: the line count) then ``"import"`` (good rows staged of all good rows). Called from a thread.
Progress = Callable[[str, int, int], None]


class UnknownTenantError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"テナント {code} は登録されていません / unknown tenant {code}")
        self.code = code


class CsvRejectedError(Exception):
    """Nothing was imported; ``issues`` says why (line by line)."""

    code = "CSV_INVALID"

    def __init__(self, report: ValidationReport, message: str | None = None) -> None:
        if message is None:
            if report.fatal:
                message = (
                    "CSV ファイル全体に誤りがあるため取り込みませんでした / the file as a whole "
                    "is not a valid resident CSV; nothing imported"
                )
            else:
                message = (
                    f"CSV の {len(report.bad_lines)} 行に誤りがあるため何も取り込んでいません"
                    f"（--skip-bad で誤りのある行を除いて取り込めます） / {len(report.bad_lines)} "
                    "bad line(s); nothing imported (--skip-bad imports the good lines)"
                )
        super().__init__(message)
        self.message = message
        self.report = report

    @property
    def issues(self) -> list[CsvIssue]:
        return self.report.issues


class TooManyBadLinesError(CsvRejectedError):
    code = "TOO_MANY_BAD_LINES"

    def __init__(self, report: ValidationReport, max_share: float) -> None:
        bad, records = len(report.bad_lines), report.records
        super().__init__(
            report,
            f"誤りのある行が {bad}/{records} 行（{report.bad_share:.1%}）で、上限 "
            f"{max_share:.1%} を超えるため何も取り込んでいません（壊れたファイルで住民一覧が"
            f"消えないように） / {bad} of {records} lines are bad ({report.bad_share:.1%}), "
            f"more than the allowed {max_share:.1%}; nothing imported",
        )


class ImportConflictError(Exception):
    def __init__(self) -> None:
        super().__init__(
            "取り込み中に LINE 連携が変更されました。もう一度取り込んでください / a LINE link "
            "changed during the import; nothing imported, run it again"
        )


@dataclass(frozen=True)
class ImportSummary:
    #: good rows in the file (the tenant's list now)
    rows: int
    inserted: int
    updated: int
    removed: int
    #: bad lines left out (``skip_bad``), with the first ``MAX_REPORTED_ISSUES`` issues
    skipped: int = 0
    issues: tuple[CsvIssue, ...] = ()
    issue_count: int = 0


def _staged(sealer: Sealer, tenant_code: str, row: ResidentRow) -> StagedRow:
    attributes = row.attributes.to_json()
    sealed = sealer.seal_text(attributes, aad=resident_aad(tenant_code, row.resident_id))
    digest = sealer.digest(f"{row.resident_id}\x1f{attributes}\x1f{row.district}".encode())
    return (row.resident_id, row.line, digest, sealed, row.district, row.line_user_id)


def _staged_batches(
    stream: BinaryIO,
    report: ValidationReport,
    sealer: Sealer,
    tenant_code: str,
    progress: RecordProgress | None,
) -> Generator[list[StagedRow], None, None]:
    rows = validation.checked_rows(stream, report, progress)
    while batch := list(islice(rows, BATCH_SIZE)):
        yield [_staged(sealer, tenant_code, row) for row in batch]


def _link_conflict(line: int, other: int) -> CsvIssue:
    return CsvIssue(
        line,
        "line_user_id",
        "LINE_USER_LINKED_ELSEWHERE",
        f"この LINE ユーザーIDは {other} 行目の住民に連携済みです（その行の line_user_id は空欄で"
        "連携が残ります）。どちらかを直してください",
        f"this line_user_id is linked to the resident of line {other}, whose empty line_user_id "
        "keeps that link; correct one of the two lines",
    )


async def _stage(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    path: Path,
    report: ValidationReport,
    progress: Progress | None,
) -> None:
    """Validate the file and stage its good rows, in one pass: parsing and sealing run in a
    thread, one batch ahead of the batch going to the database."""
    estimate = await asyncio.to_thread(validation.estimate_records, path)

    def on_read(done: int) -> None:
        if progress is not None:
            progress("validate", done, max(estimate, done))

    on_read(0)
    await repository.create_stage(session)
    with path.open("rb") as stream:
        batches = _staged_batches(stream, report, sealer, tenant_code, on_read)
        pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        try:
            while (batch := await pending) is not None:
                pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                await repository.stage_rows(session, batch)
        finally:
            if not pending.done():
                await asyncio.gather(pending, return_exceptions=True)
            batches.close()
    await repository.index_stage(session)


async def _check_staged(
    session: AsyncSession, *, tenant_code: str, report: ValidationReport
) -> None:
    """Repeated ids, then CSV links that clash with a link a staying record keeps: each such
    line is bad (reported) and leaves the staging table."""
    bad: set[int] = set()
    for column_name in ("resident_id", "line_user_id"):
        for line, first in await repository.repeated(session, column_name):
            report.add(validation.duplicate_issue(line, column_name, first))
            bad.add(line)
    report.kept_ids |= await repository.staged_ids_of_lines(session, bad)
    await repository.unstage_lines(session, bad)
    conflicts = await repository.link_conflicts(session, tenant_code)
    for line, other in conflicts:
        report.add(_link_conflict(line, other))
        bad.add(line)
    conflict_lines = [line for line, _ in conflicts]
    report.kept_ids |= await repository.staged_ids_of_lines(session, conflict_lines)
    await repository.unstage_lines(session, conflict_lines)
    report.good -= len(bad)
    report.finish()


async def _apply(
    session: AsyncSession, *, tenant_code: str, now: datetime, total: int, progress: Progress | None
) -> tuple[int, int, int]:
    """(inserted, updated, removed). Upserts in slices of resident ids (progress steps)."""
    if progress is not None:
        progress("import", 0, total)
    inserted = await repository.count_new(session, tenant_code)
    removed = await repository.remove_absent(session, tenant_code)
    await repository.release_moving_links(session, tenant_code)
    written = 0
    for number, keys in enumerate(await repository.stage_slices(session, APPLY_ROWS), 1):
        written += await repository.upsert_changed(session, tenant_code, now, keys=keys)
        if progress is not None:
            progress("import", min(number * APPLY_ROWS, total), total)
    return inserted, written - inserted, removed


async def import_csv(
    sessions: async_sessionmaker[AsyncSession],
    *,
    sealer: Sealer,
    tenant_code: str,
    path: Path,
    actor: str,
    now: datetime,
    skip_bad: bool = False,
    max_bad_share: float = DEFAULT_MAX_BAD_SHARE,
    progress: Progress | None = None,
) -> ImportSummary:
    """Validate ``path`` and import it, or raise ``CsvRejectedError`` with every issue."""
    report = ValidationReport()
    try:
        async with unit_of_work(sessions) as session:
            if not await repository.lock_tenant(session, tenant_code):
                raise UnknownTenantError(tenant_code)
            await _stage(
                session,
                sealer=sealer,
                tenant_code=tenant_code,
                path=path,
                report=report,
                progress=progress,
            )
            if report.fatal:
                raise CsvRejectedError(report)
            await _check_staged(session, tenant_code=tenant_code, report=report)
            if not report.ok and not skip_bad:
                raise CsvRejectedError(report)
            if report.bad_share > max_bad_share:
                raise TooManyBadLinesError(report, max_bad_share)
            await repository.keep_residents(session, report.kept_ids)
            inserted, updated, removed = await _apply(
                session, tenant_code=tenant_code, now=now, total=report.good, progress=progress
            )
            await repository.drop_stage(session)
            await audit.record(
                session,
                tenant_code=tenant_code,
                actor=actor,
                action="residents.import",
                at=now,
                count=report.good,
                detail={
                    "inserted": inserted,
                    "updated": updated,
                    "removed": removed,
                    "skipped": len(report.bad_lines),
                },
            )
    except IntegrityError as exc:
        raise ImportConflictError() from exc
    return ImportSummary(
        rows=report.good,
        inserted=inserted,
        updated=updated,
        removed=removed,
        skipped=len(report.bad_lines),
        issues=tuple(report.issues),
        issue_count=report.issue_count,
    )
