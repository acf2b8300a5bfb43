"""Field types shared by the contract's models: strict integers, RFC 3339 times, id strings.

Models built on ``ContractModel`` are closed (``extra="forbid"``), frozen, and never coerce:
integers must be JSON integers (no ``"1"``, no ``1.0``, no ``true``) within
``0 .. 2**53 - 1``, strings must be strings, and times must be RFC 3339 strings with an
explicit offset (``Z`` or ``±hh:mm``) — or aware ``datetime`` objects from Python code.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
)

from contracts.canonical import MAX_SAFE_INTEGER
from contracts.ids import (
    AREA_CODE_RE,
    HUB_ID_RE,
    KID_RE,
    MUNICIPALITY_CODE_RE,
    PROGRAM_CODE_RE,
    PUBLISHER_ID_RE,
    SHA256_HEX_RE,
    ULID_RE,
)

TIME_RE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})T(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})"
)


class ContractModel(BaseModel):
    """Base of every wire model: closed, frozen, alias-aware (``schema`` on the wire)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        serialize_by_alias=True,
    )

    def to_payload(self) -> dict[str, Any]:
        """The wire JSON object (aliases, RFC 3339 strings, absent optional members omitted)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("time must carry an explicit UTC offset")
        return value
    if not isinstance(value, str):
        raise ValueError("time must be an RFC 3339 string")
    match = TIME_RE.fullmatch(value)
    if match is None:
        raise ValueError(
            "time must be RFC 3339 with an explicit offset, e.g. 2027-04-01T09:00:00+09:00"
        )
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    offset = "+00:00" if match["offset"] == "Z" else match["offset"]
    try:
        return datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}{offset}")
    except ValueError as exc:
        raise ValueError(f"not a valid time: {exc}") from exc


def _fullmatch(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if pattern.fullmatch(value) is None:
            raise ValueError(f"not a valid {what}")
        return value

    return check


def _schema_pattern(pattern: re.Pattern[str]) -> str:
    return "^(?:" + re.sub(r"\(\?P<\w+>", "(", pattern.pattern) + ")$"


def _pattern(pattern: re.Pattern[str], what: str) -> tuple[AfterValidator, Any]:
    return AfterValidator(_fullmatch(pattern, what)), Field(
        json_schema_extra={"pattern": _schema_pattern(pattern)}
    )


Time = Annotated[
    datetime,
    BeforeValidator(_parse_time),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _schema_pattern(TIME_RE)}),
]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_SAFE_INTEGER)]
PositiveInt = Annotated[int, Strict(), Field(ge=1, le=MAX_SAFE_INTEGER)]


PublisherId = Annotated[str, Strict(), *_pattern(PUBLISHER_ID_RE, "publisher id")]
AreaCode = Annotated[str, Strict(), *_pattern(AREA_CODE_RE, "area code")]
MunicipalityCode = Annotated[str, Strict(), *_pattern(MUNICIPALITY_CODE_RE, "municipality code")]
Kid = Annotated[str, Strict(), *_pattern(KID_RE, "key id")]
HubId = Annotated[str, Strict(), *_pattern(HUB_ID_RE, "hub id")]
Ulid = Annotated[str, Strict(), *_pattern(ULID_RE, "ULID")]
ProgramCode = Annotated[str, Strict(), *_pattern(PROGRAM_CODE_RE, "program code")]
Sha256Hex = Annotated[str, Strict(), *_pattern(SHA256_HEX_RE, "lowercase hex SHA-256")]

Text64 = Annotated[str, Strict(), Field(min_length=1, max_length=64)]
Text200 = Annotated[str, Strict(), Field(min_length=1, max_length=200)]
Text1000 = Annotated[str, Strict(), Field(min_length=1, max_length=1000)]
Headline = Annotated[str, Strict(), Field(min_length=1, max_length=60)]
