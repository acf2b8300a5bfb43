"""Applicants CSV (窓口・郵送の申請者 CSV): who applied to a campaign outside LINE.

Encoding UTF-8 (a leading BOM is accepted), comma-separated, RFC 4180 quoting. The first line is
a header naming exactly these two columns (any order)::

    resident_id,applied_at

================  ===========================================================================
column            rule
================  ===========================================================================
``resident_id``   required; a resident of the tenant (the resident CSV's ``resident_id``).
                  Unique in the file.
``applied_at``    required; ``YYYY-MM-DD`` (taken as 00:00 JST of that day), or an ISO 8601
                  date and time (``2026-12-03T10:15`` is JST; an offset such as ``+09:00`` or
                  ``Z`` is honoured). Not in the future.
================  ===========================================================================

Completely empty lines are skipped. The whole file is checked before anything is imported; every
bad line is reported (``CsvIssue``, the resident import's wording).

Example::

    resident_id,applied_at
    000123,2026-12-03
    000124,2026-12-04T14:30
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from typing import BinaryIO

from municipal_node.residents.csv_format import RESIDENT_ID_RE, CsvIssue

COLUMNS = ("resident_id", "applied_at")
JST = timezone(timedelta(hours=9), "JST")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
FATAL_CODES = frozenset({"EMPTY_FILE", "BAD_HEADER", "BAD_CSV"})


@dataclass(frozen=True)
class ApplicantRow:
    line: int
    resident_id: str
    applied_at: datetime  # aware, UTC


def parse_applied_at(value: str) -> datetime | None:
    """``YYYY-MM-DD`` (00:00 JST) or an ISO date-time (JST unless it carries an offset)."""
    value = value.strip()
    try:
        if DATE_RE.fullmatch(value):
            day = datetime.strptime(value, "%Y-%m-%d").date()
            return datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)
        if DATETIME_RE.fullmatch(value):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=JST)
            return parsed.astimezone(UTC)
    except ValueError:
        return None
    return None


def _issue(line: int, column: str | None, code: str, ja: str, en: str) -> CsvIssue:
    return CsvIssue(line, column, code, ja, en)


def read_rows(stream: BinaryIO, *, now: datetime) -> tuple[list[ApplicantRow], list[CsvIssue]]:
    """Every good row and every issue of the file (repeats included; the tenant's residents are
    checked by the caller)."""
    rows: list[ApplicantRow] = []
    issues: list[CsvIssue] = []
    first_line: dict[str, int] = {}
    for line, record, at in _records(stream, issues):
        resident_id = record[at[0]].strip()
        applied_raw = record[at[1]].strip()
        bad = False
        if not RESIDENT_ID_RE.fullmatch(resident_id):
            bad = True
            issues.append(
                _issue(
                    line,
                    "resident_id",
                    "BAD_RESIDENT_ID",
                    "住民IDは英数字と . _ - の1〜64文字で、英数字で始まります",
                    "resident_id must be 1-64 of [0-9A-Za-z._-], starting with a letter or digit",
                )
            )
        elif resident_id in first_line:
            bad = True
            issues.append(
                _issue(
                    line,
                    "resident_id",
                    "DUPLICATE_RESIDENT_ID",
                    f"住民IDが {first_line[resident_id]} 行目と重複しています",
                    f"resident_id repeats line {first_line[resident_id]}",
                )
            )
        else:
            first_line[resident_id] = line
        applied_at = parse_applied_at(applied_raw)
        if applied_at is None:
            bad = True
            issues.append(
                _issue(
                    line,
                    "applied_at",
                    "BAD_APPLIED_AT",
                    f"申請日時 {applied_raw!r} は YYYY-MM-DD または YYYY-MM-DDTHH:MM の正しい"
                    "日時ではありません",
                    f"applied_at {applied_raw!r} is not a valid YYYY-MM-DD or ISO date-time",
                )
            )
        elif applied_at > now:
            bad = True
            issues.append(
                _issue(
                    line,
                    "applied_at",
                    "FUTURE_APPLIED_AT",
                    f"申請日時 {applied_raw!r} が未来です",
                    f"applied_at {applied_raw!r} is in the future",
                )
            )
        if not bad and applied_at is not None:
            rows.append(ApplicantRow(line, resident_id, applied_at))
    issues.sort(key=lambda issue: issue.line)
    return rows, issues


def _records(
    stream: BinaryIO, issues: list[CsvIssue]
) -> Iterator[tuple[int, list[str], tuple[int, int]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            issues.append(_issue(1, None, "EMPTY_FILE", "ファイルが空です", "the file is empty"))
            return
        names = [name.strip() for name in header]
        if sorted(names) != sorted(COLUMNS):
            issues.append(
                _issue(
                    1,
                    None,
                    "BAD_HEADER",
                    "1行目は見出し " + ",".join(COLUMNS) + " が必要です",
                    "line 1 must be the header " + ",".join(COLUMNS),
                )
            )
            return
        at = (names.index("resident_id"), names.index("applied_at"))
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record or record == [""]:
                continue
            if len(record) != len(COLUMNS):
                issues.append(
                    _issue(
                        line,
                        None,
                        "BAD_COLUMNS",
                        f"列の数が {len(record)} です（{len(COLUMNS)} 列必要）",
                        f"{len(record)} columns, expected {len(COLUMNS)}",
                    )
                )
                continue
            yield line, record, at
    except UnicodeDecodeError:
        issues.append(
            _issue(
                reader.line_num + 1,
                None,
                "BAD_CSV",
                "UTF-8 ではない文字が含まれています",
                "not valid UTF-8",
            )
        )
    except csv.Error as exc:
        issues.append(
            _issue(
                reader.line_num,
                None,
                "BAD_CSV",
                f"CSV として読めません（{exc}）",
                f"not readable as CSV ({exc})",
            )
        )
    finally:
        text.detach()
