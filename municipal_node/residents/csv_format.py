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
                       hex digits. Unique in the file. A value sets the link; an empty value
                       leaves the record's current link (ID連携) as it is.
=====================  =======================================================================

Spaces around values and around ``;`` are ignored; an empty element (``a;;b``) is an error.
Completely empty lines are skipped.

Example::

    resident_id,household,child_birth_dates,district,programs,line_user_id
    000123,single_parent;child_rearing,2019-04-01;2021-11-30,東町,jido-fuyo-teate,U0123456789abcdef0123456789abcdef
    000124,elderly,,西町,,

Import (``todoke node import-residents --tenant 23235 FILE.csv`` or
``POST /api/tenants/{code}/residents/import``) is in ``municipal_node.residents.service``:
the whole file is validated first (``validation.py``); every bad line is reported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO, NamedTuple

from contracts.ids import PROGRAM_CODE_RE
from municipal_node.residents.schemas import HOUSEHOLD_TYPES, ResidentAttributes

COLUMNS = ("resident_id", "household", "child_birth_dates", "district", "programs", "line_user_id")
RESIDENT_ID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
LINE_USER_ID_RE = re.compile(r"U[0-9a-f]{32}")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_DISTRICT = 64
_HOUSEHOLDS = frozenset(HOUSEHOLD_TYPES)

#: problems with the file as a whole: nothing after them can be read reliably, so nothing is
#: imported even with ``skip_bad``
FATAL_CODES = frozenset({"EMPTY_FILE", "BAD_HEADER", "BAD_CSV"})


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


class Positions(NamedTuple):
    """Where each column is in a record (the header may order them freely)."""

    resident_id: int
    household: int
    child_birth_dates: int
    district: int
    programs: int
    line_user_id: int


def _split_list(value: str) -> list[str] | None:
    """``a; b`` → ``["a","b"]``; ``""`` → ``[]``; None when an element is empty."""
    value = value.strip()
    if not value:
        return []
    if ";" not in value:
        return [value]
    parts = [part.strip() for part in value.split(";")]
    return None if not all(parts) else parts


def _parse_dates(text: str) -> tuple[list[date], str | None]:
    """The dates, or the first bad element."""
    raw = _split_list(text)
    if raw is None:
        return [], ""
    births: list[date] = []
    for item in raw:
        try:
            if not DATE_RE.fullmatch(item):
                raise ValueError(item)
            born = date.fromisoformat(item)
        except ValueError:
            return [], item
        if born.year < 1900:
            return [], item
        births.append(born)
    return births, None


def parse_fields(
    line: int, values: Sequence[str], at: Positions
) -> tuple[ResidentRow | None, list[CsvIssue]]:
    """Check one record. Returns the row, or None and its issues."""
    issues: list[CsvIssue] = []
    resident_id = values[at.resident_id].strip()
    if not RESIDENT_ID_RE.fullmatch(resident_id):
        issues.append(
            CsvIssue(
                line,
                "resident_id",
                "BAD_RESIDENT_ID",
                "住民IDは英数字と . _ - の1〜64文字で、英数字で始まります",
                "resident_id must be 1-64 of [0-9A-Za-z._-], starting with a letter or digit",
            )
        )
    household = _split_list(values[at.household])
    if household is None or not _HOUSEHOLDS.issuperset(household):
        issues.append(
            CsvIssue(
                line,
                "household",
                "BAD_HOUSEHOLD",
                "世帯区分は " + "・".join(HOUSEHOLD_TYPES) + " を ; で区切って指定します",
                "household must be ;-separated values of " + ", ".join(HOUSEHOLD_TYPES),
            )
        )
    births, bad_date = _parse_dates(values[at.child_birth_dates])
    if bad_date is not None:
        issues.append(
            CsvIssue(
                line,
                "child_birth_dates",
                "BAD_DATE",
                f"子の生年月日 {bad_date!r} は YYYY-MM-DD の正しい日付ではありません",
                f"child birth date {bad_date!r} is not a valid YYYY-MM-DD date",
            )
        )
    district = values[at.district].strip()
    if len(district) > MAX_DISTRICT or (district and CONTROL_RE.search(district)):
        issues.append(
            CsvIssue(
                line,
                "district",
                "BAD_DISTRICT",
                f"地区は制御文字を含まない{MAX_DISTRICT}文字以内です",
                f"district must be at most {MAX_DISTRICT} characters without control characters",
            )
        )
    programs = _split_list(values[at.programs])
    if programs is None or not all(PROGRAM_CODE_RE.fullmatch(p) for p in programs):
        issues.append(
            CsvIssue(
                line,
                "programs",
                "BAD_PROGRAM",
                "制度コードは [a-z0-9-] の1〜64文字を ; で区切って指定します",
                "programs must be ;-separated codes of 1-64 [a-z0-9-]",
            )
        )
    line_user_id = values[at.line_user_id].strip() or None
    if line_user_id is not None and not LINE_USER_ID_RE.fullmatch(line_user_id):
        issues.append(
            CsvIssue(
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
        household=tuple(dict.fromkeys(household or ())),
        child_birth_dates=tuple(births),
        programs=tuple(dict.fromkeys(programs or ())),
    )
    return ResidentRow(line, resident_id, attributes, district, line_user_id), []


def _not_utf8(record: list[str]) -> bool:
    """Whether a field holds bytes that were not UTF-8 (decoded as lone surrogates)."""
    for value in record:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def read_records(
    stream: BinaryIO, report: Callable[[CsvIssue], None]
) -> Iterator[tuple[int, list[str], Positions]]:
    """Yield (line, fields, positions) for every data record of the right shape; every problem
    of shape, encoding or syntax goes to ``report`` (line = where the record starts)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            report(CsvIssue(1, None, "EMPTY_FILE", "ファイルが空です", "the file is empty"))
            return
        names = [name.strip() for name in header]
        if sorted(names) != sorted(COLUMNS):
            report(
                CsvIssue(
                    1,
                    None,
                    "BAD_HEADER",
                    "1行目は見出し " + ",".join(COLUMNS) + " が必要です",
                    "line 1 must be the header " + ",".join(COLUMNS),
                )
            )
            return
        at = Positions(*(names.index(column) for column in COLUMNS))
        width = len(names)
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record or record == [""]:
                continue
            if _not_utf8(record):
                report(
                    CsvIssue(
                        line,
                        None,
                        "BAD_ENCODING",
                        "UTF-8 ではない文字が含まれています",
                        "not valid UTF-8",
                    )
                )
                continue
            if len(record) != width:
                report(
                    CsvIssue(
                        line,
                        None,
                        "BAD_COLUMNS",
                        f"列の数が {len(record)} です（{width} 列必要）",
                        f"{len(record)} columns, expected {width}",
                    )
                )
                continue
            yield line, record, at
    except csv.Error as exc:
        report(
            CsvIssue(
                reader.line_num,
                None,
                "BAD_CSV",
                f"CSV として読めません（{exc}）",
                f"not readable as CSV ({exc})",
            )
        )
    finally:
        text.detach()
