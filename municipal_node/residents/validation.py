"""Whole-file validation of a resident CSV, in one streaming pass that also yields the good rows.

Only the line numbers of bad lines and the first ``MAX_REPORTED_ISSUES`` issues are kept in
memory. Repeated resident ids and LINE user ids are found afterwards in the staging table
(``duplicate_issue`` words them), so memory does not grow with the file. Blocking: run it in a
thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from municipal_node.residents.csv_format import (
    FATAL_CODES,
    RESIDENT_ID_RE,
    CsvIssue,
    ResidentRow,
    parse_fields,
    read_records,
)

#: issues kept with their text; beyond this they are only counted (a report of a million bad
#: lines helps nobody and would not fit in memory)
MAX_REPORTED_ISSUES = 10_000
PROGRESS_EVERY = 2_000

#: called with the number of records read so far
RecordProgress = Callable[[int], None]


@dataclass
class ValidationReport:
    good: int = 0
    bad_lines: set[int] = field(default_factory=set)
    #: the first ``MAX_REPORTED_ISSUES`` issues, in line order once ``finish`` ran
    issues: list[CsvIssue] = field(default_factory=list)
    issue_count: int = 0
    #: a problem with the file as a whole (header, CSV syntax): nothing can be imported
    fatal: bool = False
    #: well-formed resident ids found on bad lines: with ``skip_bad`` those residents are kept
    #: exactly as they are (a typo in one field must not delete a record and its ID連携 link)
    kept_ids: set[str] = field(default_factory=set)

    def add(self, issue: CsvIssue) -> None:
        self.issue_count += 1
        if issue.code in FATAL_CODES:
            self.fatal = True
        else:
            self.bad_lines.add(issue.line)
        if len(self.issues) < MAX_REPORTED_ISSUES:
            self.issues.append(issue)

    def finish(self) -> None:
        self.issues.sort(key=lambda issue: issue.line)

    @property
    def ok(self) -> bool:
        return self.issue_count == 0

    @property
    def records(self) -> int:
        """Data records in the file (good + bad)."""
        return self.good + len(self.bad_lines)

    @property
    def bad_share(self) -> float:
        return len(self.bad_lines) / self.records if self.records else 0.0


def duplicate_issue(line: int, column: str, first: int) -> CsvIssue:
    if column == "resident_id":
        return CsvIssue(
            line,
            column,
            "DUPLICATE_RESIDENT_ID",
            f"住民IDが {first} 行目と重複しています",
            f"resident_id repeats line {first}",
        )
    return CsvIssue(
        line,
        column,
        "DUPLICATE_LINE_USER_ID",
        f"LINE ユーザーIDが {first} 行目と重複しています",
        f"line_user_id repeats line {first}",
    )


def checked_rows(
    stream: BinaryIO, report: ValidationReport, progress: RecordProgress | None = None
) -> Iterator[ResidentRow]:
    """Read the whole stream, adding every issue of a line on its own to ``report``; yield each
    row whose fields are good as it is found (``report.good`` counts them). Repeats are not
    checked here. ``report.finish()`` runs at the end."""
    read = 0
    for line, values, at in read_records(stream, report.add):
        read += 1
        if progress is not None and read % PROGRESS_EVERY == 0:
            progress(read)
        row, issues = parse_fields(line, values, at)
        if row is None:
            for issue in issues:
                report.add(issue)
            if at.resident_id < len(values):
                resident_id = values[at.resident_id].strip()
                if RESIDENT_ID_RE.fullmatch(resident_id):
                    report.kept_ids.add(resident_id)
            continue
        report.good += 1
        yield row
    if progress is not None:
        progress(read)
    report.finish()


def estimate_records(path: Path) -> int:
    """Data records, estimated from the line count (quoted line breaks count extra)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)
