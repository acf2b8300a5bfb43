from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from municipal_node.segments.models import Segment
from municipal_node.segments.spec import SegmentSpec

#: counts 0–9 are never shown (small-cell rule, WELFARE.md "Privacy rules")
SMALL_CELL = 10
HIDDEN_COUNT: Literal["<10"] = "<10"
SAMPLE_SIZE = 5

ShownCount = int | Literal["<10"]


def shown_count(count: int) -> ShownCount:
    return count if count >= SMALL_CELL else HIDDEN_COUNT


def _name(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("名前を入れてください / name must not be blank")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ValueError("名前に制御文字は使えません / name must not contain control characters")
    return text


class SegmentIn(BaseModel):
    """Create or replace a segment."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    spec: SegmentSpec

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _name(value)


class SegmentOut(BaseModel):
    id: int
    name: str
    description: str
    spec: dict[str, Any]
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, segment: Segment) -> SegmentOut:
        return cls(
            id=segment.id,
            name=segment.name,
            description=segment.description,
            spec=segment.spec,
            created_by=segment.created_by,
            updated_by=segment.updated_by,
            created_at=segment.created_at,
            updated_at=segment.updated_at,
        )


class PreviewIn(BaseModel):
    """An unsaved spec to count; ``on`` (default: today in Japan) fixes children's ages."""

    model_config = ConfigDict(extra="forbid")

    spec: SegmentSpec
    on: date | None = None


class SampleRecord(BaseModel):
    """What a preview shows of one recipient: never a name, a LINE id or an attribute."""

    resident_id: str | None
    district: str | None
    linked: bool


class CountOut(BaseModel):
    count: ShownCount
    on: date


class PreviewOut(BaseModel):
    count: ShownCount
    on: date
    sample: list[SampleRecord]
    #: why no sample is shown (viewer role, or fewer than 10), else None
    sample_withheld: str | None = None
