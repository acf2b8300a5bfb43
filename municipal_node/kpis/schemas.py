"""KPIs as the API and the CLI show them (aggregates only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class PhaseKpis(BaseModel):
    phase: str
    label_ja: str
    state: str
    enabled: bool
    send_at: datetime
    job_id: int | None
    job_state: str | None
    targeted: int
    sent: int
    failed: int
    blocked: int = Field(description="dropped at send time: blocked the account or stopped all")
    opened: int | None = Field(description="LINE insight uniqueImpression; None: see opened_note")
    opened_note: str = Field(description="ok, below_threshold (LINE: < 20), unavailable, not_sent")
    opened_error: str | None = None
    clicked: int = Field(description="taps on the phase's button (not people)")
    applied: int = Field(description="applications after this phase, before the next one")


class ApplicationKpis(BaseModel):
    total: int = Field(description="every application, online and counter")
    in_window: int = Field(description="applied between opening and closing")
    before_reminder: int | None = Field(
        description="applied in the window before the reminder was sent (reminders avoided); "
        "None while no reminder was sent"
    )
    after_reminder: int | None = Field(description="applied after the reminder was sent")
    segment: int = Field(description="the largest targeted of the phases")
    in_time_rate: float | None = Field(description="in_window / segment")
    baseline_rate: float | None
    vs_baseline_points: float | None = Field(
        description="(in_time_rate - baseline_rate) in percentage points"
    )


class CampaignKpis(BaseModel):
    campaign_id: int
    title: str
    publisher: str
    notice_id: str
    state: str
    opens_at: datetime
    closes_at: datetime
    as_of: datetime
    phases: list[PhaseKpis]
    applications: ApplicationKpis
