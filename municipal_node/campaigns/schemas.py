"""What the campaign API takes and answers. Times are ISO 8601 with an offset; every answer
also shows them in JST for staff (``*_jst``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.fields import PublisherId, Ulid
from municipal_node.campaigns.models import Campaign, CampaignPhase, CampaignPhaseName
from municipal_node.campaigns.timing import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    jst_text,
    parse_hhmm,
)


def _hhmm(value: str) -> str:
    parse_hhmm(value)
    return value


class CampaignIn(BaseModel):
    """Make the campaign of a stored notice that has an application window."""

    model_config = ConfigDict(extra="forbid")

    publisher: PublisherId
    notice_id: Ulid
    title: str | None = Field(default=None, min_length=1, max_length=200)
    quiet_start: str = DEFAULT_QUIET_START
    quiet_end: str = DEFAULT_QUIET_END
    skip_holidays: bool = False
    baseline_rate: float | None = Field(default=None, ge=0, le=1)

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _times(cls, value: str) -> str:
        return _hhmm(value)


class PhasePatch(BaseModel):
    """Change one phase that has not been sent (at least one field)."""

    model_config = ConfigDict(extra="forbid")

    send_at: AwareDatetime | None = None
    enabled: bool | None = None
    text: str | None = Field(default=None, min_length=1, max_length=5000)
    alt_text: str | None = Field(default=None, min_length=1, max_length=400)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class BaselineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: last year's share of the segment that applied in time, 0..1 (null clears it)
    rate: float | None = Field(ge=0, le=1)


class PhaseOut(BaseModel):
    phase: str
    label: str
    enabled: bool
    state: str
    send_at: datetime
    send_at_jst: str
    job_id: int | None
    reason: str | None
    messages: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, row: CampaignPhase, *, with_messages: bool = False) -> PhaseOut:
        return cls(
            phase=row.phase,
            label=CampaignPhaseName.LABELS_JA.get(row.phase, row.phase),
            enabled=row.enabled,
            state=row.state,
            send_at=row.send_at,
            send_at_jst=jst_text(row.send_at),
            job_id=row.job_id,
            reason=row.reason,
            messages=row.messages if with_messages else None,
        )


class CampaignOut(BaseModel):
    id: int
    publisher: str
    notice_id: str
    title: str
    opens_at: datetime
    opens_at_jst: str
    closes_at: datetime
    closes_at_jst: str
    rule_id: int | None
    quiet_start: str
    quiet_end: str
    skip_holidays: bool
    baseline_rate: float | None
    state: str
    reason: str | None
    created_by: str
    created_at: datetime
    phases: list[PhaseOut]

    @classmethod
    def of(
        cls, row: Campaign, phases: list[CampaignPhase], *, with_messages: bool = False
    ) -> CampaignOut:
        return cls(
            id=row.id,
            publisher=row.publisher,
            notice_id=row.notice_id,
            title=row.title,
            opens_at=row.opens_at,
            opens_at_jst=jst_text(row.opens_at),
            closes_at=row.closes_at,
            closes_at_jst=jst_text(row.closes_at),
            rule_id=row.rule_id,
            quiet_start=row.quiet_start,
            quiet_end=row.quiet_end,
            skip_holidays=row.skip_holidays,
            baseline_rate=row.baseline_rate,
            state=row.state,
            reason=row.reason,
            created_by=row.created_by,
            created_at=row.created_at,
            phases=[PhaseOut.of(p, with_messages=with_messages) for p in phases],
        )
