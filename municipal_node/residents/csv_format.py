"""Resident CSV (住民データ CSV) — the format the core system exports for the node.

Encoding UTF-8 (a leading BOM is accepted), comma-separated, RFC 4180 quoting, one resident
per record. The first line is a header naming exactly these six columns (any order)::

    resident_id,household,child_birth_dates,district,programs,line_user_id

=====================  =======================================================================
column                 rule
=====================  =======================================================================
``resident_id``        required; 1–64 characters ``[0-9A-Za-z._-]``, starting with a letter or
                       digit (e.g. the 宛名番号). Unique in the file.
``household``          ``;``-separated household types, may be empty: ``single_parent``
                       (ひとり親), ``child_rearing`` (子育て), ``pregnant`` (妊娠中), ``elderly``
                       (高齢), ``disability`` (障害).
``child_birth_dates``  ``;``-separated birth dates of the children, ``YYYY-MM-DD``, may be empty.
``district``           free text, at most 64 characters (地区), may be empty; no control
                       characters.
``programs``           ``;``-separated program codes the resident is enrolled in,
                       each ``[a-z0-9-]{1,64}`` (e.g. ``jido-fuyo-teate``), may be empty.
``line_user_id``       empty, or the LINE user id linked to this resident: ``U`` + 32 lowercase
                       hex digits. Unique in the file.
=====================  =======================================================================

Spaces around values and around ``;`` are ignored; an empty element (``a;;b``) is an error.
Completely empty lines are skipped.

Example::

    resident_id,household,child_birth_dates,district,programs,line_user_id
    000123,single_parent;child_rearing,2019-04-01;2021-11-30,東町,jido-fuyo-teate,U0123456789abcdef0123456789abcdef
    000124,elderly,,西町,,

Import (``todoke node import-residents --tenant 23235 FILE.csv`` or
``POST /api/tenants/{code}/residents/import``) first validates the whole file and reports every
bad line (line number, column, reason in Japanese and English); if any line is bad nothing is
imported. A good file replaces the tenant's resident list: records are upserted by
``resident_id`` and residents absent from the file are removed. Re-importing the same file
changes nothing. Household types, birth dates and programs are encrypted at rest.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

from contracts.ids import PROGRAM_CODE_RE
from municipal_node.residents.schemas import HOUSEHOLD_TYPES, ResidentAttributes

COLUMNS = ("resident_id", "household", "child_birth_dates", "district", "programs", "line_user_id")
RESIDENT_ID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
LINE_USER_ID_RE = re.compile(r"U[0-9a-f]{32}")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_DISTRICT = 64


@dataclass(frozen=True)
class CsvIssue:
    """One problem on one line. ``column`` is None for line-level problems."""

    line: int
    column: str | None
    code: str
    message_ja: str
    message_en: str

    def render(self) -> str:
        where = f"{self.line}行目" + (f" [{self.column}]" if self.column else "")
        return f"{where}: {self.message_ja} / line {self.line}: {self.message_en} ({self.code})"


@dataclass(frozen=True)
class ResidentRow:
    line: int
    resident_id: str
    attributes: ResidentAttributes
    district: str
    line_user_id: str | None


@dataclass
class ValidationReport:
    rows: int = 0
    issues: list[CsvIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


class _Lines:
    """Decode a byte stream line by line, so a bad byte is reported with its line number."""

    def __init__(self, stream: BinaryIO, issues: list[CsvIssue]) -> None:
        self._stream = stream
        self._issues = issues
        self.physical = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._stream:
            self.physical += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._issues.append(
                    CsvIssue(
                        self.physical,
                        None,
                        "BAD_ENCODING",
                        "UTF-8 ではない文字が含まれています",
                        "not valid UTF-8",
                    )
                )
                text = raw.decode("utf-8", errors="replace")
            if self.physical == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text


def _split_list(value: str) -> list[str] | None:
    """``a; b`` → ``["a","b"]``; ``""`` → ``[]``; None when an element is empty."""
    value = value.strip()
    if not value:
        return []
    parts = [part.strip() for part in value.split(";")]
    return None if any(not part for part in parts) else parts


def _issue(line: int, column: str, code: str, ja: str, en: str) -> CsvIssue:
    return CsvIssue(line, column, code, ja, en)


def parse_fields(line: int, values: dict[str, str]) -> tuple[ResidentRow | None, list[CsvIssue]]:
    """Check one record (column name → raw text). Returns the row or its issues."""
    issues: list[CsvIssue] = []
    resident_id = values["resident_id"].strip()
    if not RESIDENT_ID_RE.fullmatch(resident_id):
        issues.append(
            _issue(
                line,
                "resident_id",
                "BAD_RESIDENT_ID",
                "住民IDは英数字と . _ - の1〜64文字で、英数字で始まります",
                "resident_id must be 1-64 of [0-9A-Za-z._-], starting with a letter or digit",
            )
        )
    household = _split_list(values["household"])
    if household is None or any(h not in HOUSEHOLD_TYPES for h in household):
        issues.append(
            _issue(
                line,
                "household",
                "BAD_HOUSEHOLD",
                "世帯区分は " + "・".join(HOUSEHOLD_TYPES) + " を ; で区切って指定します",
                "household must be ;-separated values of " + ", ".join(HOUSEHOLD_TYPES),
            )
        )
    births: list[date] = []
    raw_dates = _split_list(values["child_birth_dates"])
    for text in raw_dates if raw_dates is not None else [""]:
        try:
            if not DATE_RE.fullmatch(text):
                raise ValueError(text)
            born = date.fromisoformat(text)
            if born.year < 1900:
                raise ValueError(text)
            births.append(born)
        except ValueError:
            issues.append(
                _issue(
                    line,
                    "child_birth_dates",
                    "BAD_DATE",
                    f"子の生年月日 {text!r} は YYYY-MM-DD の正しい日付ではありません",
                    f"child birth date {text!r} is not a valid YYYY-MM-DD date",
                )
            )
            break
    district = values["district"].strip()
    if len(district) > MAX_DISTRICT or CONTROL_RE.search(district):
        issues.append(
            _issue(
                line,
                "district",
                "BAD_DISTRICT",
                f"地区は制御文字を含まない{MAX_DISTRICT}文字以内です",
                f"district must be at most {MAX_DISTRICT} characters without control characters",
            )
        )
    programs = _split_list(values["programs"])
    if programs is None or any(not PROGRAM_CODE_RE.fullmatch(p) for p in programs):
        issues.append(
            _issue(
                line,
                "programs",
                "BAD_PROGRAM",
                "制度コードは [a-z0-9-] の1〜64文字を ; で区切って指定します",
                "programs must be ;-separated codes of 1-64 [a-z0-9-]",
            )
        )
    line_user_id = values["line_user_id"].strip() or None
    if line_user_id is not None and not LINE_USER_ID_RE.fullmatch(line_user_id):
        issues.append(
            _issue(
                line,
                "line_user_id",
                "BAD_LINE_USER_ID",
                "LINE ユーザーIDは空欄か U と16進小文字32桁です",
                "line_user_id must be empty or U followed by 32 lowercase hex digits",
            )
        )
    if issues:
        return None, issues
    attributes = ResidentAttributes(
        household=tuple(dict.fromkeys(household or [])),
        child_birth_dates=tuple(births),
        programs=tuple(dict.fromkeys(programs or [])),
    )
    row = ResidentRow(line, resident_id, attributes, district, line_user_id)
    return row, []


def _records(stream: BinaryIO, issues: list[CsvIssue]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line, {column: value}) for every data record; header and shape problems → issues."""
    lines = _Lines(stream, issues)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            issues.append(CsvIssue(1, None, "EMPTY_FILE", "ファイルが空です", "the file is empty"))
            return
        names = [name.strip() for name in header]
        if sorted(names) != sorted(COLUMNS):
            issues.append(
                CsvIssue(
                    1,
                    None,
                    "BAD_HEADER",
                    "1行目は見出し " + ",".join(COLUMNS) + " が必要です",
                    "line 1 must be the header " + ",".join(COLUMNS),
                )
            )
            return
        start = lines.physical + 1
        for record in reader:
            line, start = start, lines.physical + 1
            if not record or record == [""]:
                continue
            if len(record) != len(names):
                issues.append(
                    CsvIssue(
                        line,
                        None,
                        "BAD_COLUMNS",
                        f"列の数が {len(record)} です（{len(names)} 列必要）",
                        f"{len(record)} columns, expected {len(names)}",
                    )
                )
                continue
            yield line, dict(zip(names, record, strict=True))
    except csv.Error as exc:
        issues.append(
            CsvIssue(
                lines.physical,
                None,
                "BAD_CSV",
                f"CSV として読めません（{exc}）",
                f"not readable as CSV ({exc})",
            )
        )


def validate(path: Path) -> ValidationReport:
    """Read the whole file once and collect every issue (blocking; run in a thread)."""
    report = ValidationReport()
    seen_ids: dict[str, int] = {}
    seen_users: dict[str, int] = {}
    with path.open("rb") as stream:
        for line, values in _records(stream, report.issues):
            row, issues = parse_fields(line, values)
            report.issues.extend(issues)
            if row is None:
                continue
            report.rows += 1
            first = seen_ids.setdefault(row.resident_id, line)
            if first != line:
                report.issues.append(
                    _issue(
                        line,
                        "resident_id",
                        "DUPLICATE_RESIDENT_ID",
                        f"住民IDが {first} 行目と重複しています",
                        f"resident_id repeats line {first}",
                    )
                )
            if row.line_user_id is not None:
                first = seen_users.setdefault(row.line_user_id, line)
                if first != line:
                    report.issues.append(
                        _issue(
                            line,
                            "line_user_id",
                            "DUPLICATE_LINE_USER_ID",
                            f"LINE ユーザーIDが {first} 行目と重複しています",
                            f"line_user_id repeats line {first}",
                        )
                    )
    report.issues.sort(key=lambda issue: issue.line)
    return report


def iter_rows(stream: BinaryIO) -> Iterator[ResidentRow]:
    """Rows of a file that ``validate`` accepted; raises if it meets a problem after all."""
    issues: list[CsvIssue] = []
    for line, values in _records(stream, issues):
        row, row_issues = parse_fields(line, values)
        if row is None or issues:
            raise ValueError(f"line {line} changed since validation")
        yield row
    if issues:
        raise ValueError("the file changed since validation")
