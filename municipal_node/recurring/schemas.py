from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from municipal_node.recurring.dates import Adjust, Occurrence, japanese_day
from municipal_node.recurring.models import RecurringRule
from municipal_node.segments.ages import JST
from municipal_node.segments.spec import SegmentSpec

Mode = Literal["auto", "approval"]


def _name(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("名前を入れてください / name must not be blank")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ValueError("名前に制御文字は使えません / name must not contain control characters")
    return text


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("空にはできません / must not be blank")
    return value.replace("\r\n", "\n").strip()


class Wording(BaseModel):
    """Generic wording of a local notice (no personal data; checked on save)."""

    model_config = ConfigDict(extra="forbid")

    headline: str = Field(min_length=1, max_length=60)
    body: str = Field(min_length=1, max_length=1000)
    #: https link shown as the button (the template's {受付URL})
    url: str | None = Field(default=None, max_length=2000)
    #: a saved template of this municipality (default: the built-in one)
    template_id: int | None = Field(default=None, ge=1)
    mode: Mode = "auto"

    @field_validator("url", mode="before")
    @classmethod
    def _url_blank(cls, value: Any) -> Any:
        return _blank_is_none(value)

    @field_validator("headline", "body")
    @classmethod
    def _text(cls, value: str) -> str:
        return _not_blank(value)


class RecurrenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: one RFC 5545 RRULE value, e.g. FREQ=MONTHLY;BYMONTH=1,3,5,7,9,11;BYMONTHDAY=11
    rrule: str = Field(min_length=1, max_length=500)
    #: first day the rule counts from (default: today in Japan)
    starts_on: date | None = None
    #: notify this many calendar days before the (adjusted) event day
    lead_days: int = Field(default=0, ge=0, le=60)
    #: JST, outside quiet hours (08:00–20:59)
    send_time: str = Field(default="09:00", max_length=5)
    #: event day on a weekend/holiday → previous / next business day, or as is
    adjust: Adjust = "previous"


class RecurringRuleIn(RecurrenceIn, Wording):
    """Create or replace a recurring notice."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    #: who receives it (SegmentSpec; ``{}`` = every friend)
    spec: SegmentSpec
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _name(value)


class PreviewIn(RecurrenceIn):
    """Dates of an unsaved rule."""

    count: int = Field(default=6, ge=1, le=24)


class OccurrenceOut(BaseModel):
    #: the RRULE date
    on: date
    #: the event day after the business-day adjustment
    event_day: date
    event_day_ja: str
    send_at: datetime
    #: when it is sent, in JST as staff read it
    send_at_ja: str
    moved: bool

    @classmethod
    def of(cls, occurrence: Occurrence) -> OccurrenceOut:
        local = occurrence.send_at.astimezone(JST)
        return cls(
            on=occurrence.on,
            event_day=occurrence.event_day,
            event_day_ja=japanese_day(occurrence.event_day),
            send_at=local,
            send_at_ja=f"{japanese_day(local.date())}{local.hour}:{local.minute:02d}",
            moved=occurrence.event_day != occurrence.on,
        )


class RecurringRuleOut(BaseModel):
    id: int
    name: str
    rrule: str
    starts_on: date
    lead_days: int
    send_time: str
    adjust: str
    spec: dict[str, Any]
    headline: str
    body: str
    url: str | None
    template_id: int | None
    mode: str
    enabled: bool
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime
    #: the occurrence the scheduler holds now (None when switched off)
    scheduled: OccurrenceOut | None
    #: the next few occurrences after it
    upcoming: list[OccurrenceOut]

    @classmethod
    def of(
        cls, rule: RecurringRule, *, scheduled: Occurrence | None, upcoming: list[Occurrence]
    ) -> RecurringRuleOut:
        return cls(
            id=rule.id,
            name=rule.name,
            rrule=rule.rrule,
            starts_on=rule.starts_on,
            lead_days=rule.lead_days,
            send_time=rule.send_time,
            adjust=rule.adjust,
            spec=rule.spec,
            headline=rule.headline,
            body=rule.body,
            url=rule.url,
            template_id=rule.template_id,
            mode=rule.mode,
            enabled=rule.enabled,
            created_by=rule.created_by,
            updated_by=rule.updated_by,
            created_at=rule.created_at,
            updated_at=rule.updated_at,
            scheduled=None if scheduled is None else OccurrenceOut.of(scheduled),
            upcoming=[OccurrenceOut.of(o) for o in upcoming],
        )


class PreviewOut(BaseModel):
    occurrences: list[OccurrenceOut]
