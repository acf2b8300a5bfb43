from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class CampaignPhaseName:
    """The phases of a campaign; the same words are ``send_jobs.phase`` and CONTRACT §6's."""

    PREVIEW = "preview"  # 予告
    OPEN = "open"  # 受付開始
    REMINDER = "reminder"  # 締切前リマインド

    ALL = (PREVIEW, OPEN, REMINDER)
    LABELS_JA = {PREVIEW: "予告", OPEN: "受付開始", REMINDER: "締切前リマインド"}


class CampaignState:
    ACTIVE = "active"
    CANCELLED = "cancelled"  # by staff or by the hub's Cancel of the notice
    FINISHED = "finished"  # every enabled phase is sent (or missed) and the window closed


class PhaseState:
    SCHEDULED = "scheduled"  # waiting for ``send_at``
    SENT = "sent"  # its send job exists (``job_id``); the job says how it went
    MISSED = "missed"  # the node was down past the catch-up window: reported, not sent
    OFF = "off"  # switched off by staff
    CANCELLED = "cancelled"


class Campaign(Base):
    """A notice with an application window (``action.opens``/``closes``) as a campaign of this
    tenant. ``spec`` is the segment (``SegmentSpec`` JSON) every phase is sent to; the reminder
    goes to that segment minus everyone who applied (``applications``) when it is sent."""

    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("tenant_code", "publisher", "notice_id"),
        Index("ix_campaigns_tenant_state", "tenant_code", "state"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    publisher: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(26))
    #: shown to staff and on the application page (the notice's title unless staff change it)
    title: Mapped[str] = mapped_column(String(200))
    #: the application window; applications outside it are refused
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the relay rule that made it (None: made by staff)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: quiet hours in JST ("21:00" → "08:00" by default): no phase is sent inside them
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    #: move sends off Saturdays, Sundays and public holidays (jpholiday) to the next business day
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=False)
    #: last year's share of the segment that applied in time (0..1), entered by staff; KPIs
    #: compare against it
    baseline_rate: Mapped[float | None] = mapped_column(Float)
    #: questions of the application form (list of {"name", "label", "type", "required", …});
    #: answers are sealed in ``applications.answers_sealed``
    form: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.ACTIVE)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CampaignPhase(Base):
    """One phase of a campaign: when it is sent, whether it is on, and its message."""

    __tablename__ = "campaign_phases"
    __table_args__ = (UniqueConstraint("campaign_id", "phase"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(IdType, ForeignKey("campaigns.id"))
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    phase: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: when it is sent (already moved out of quiet hours / off holidays when computed)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: LINE message objects of this phase (no personal data; checked like templates)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: staff's own wording (templates with placeholders), None: the default; kept so the
    #: messages can be rendered again when an Update changes the dates (campaigns.succession)
    custom_text: Mapped[str | None] = mapped_column(Text, default=None)
    custom_alt_text: Mapped[str | None] = mapped_column(Text, default=None)
    state: Mapped[str] = mapped_column(String(16), default=PhaseState.SCHEDULED)
    #: the send job of this phase once sent (``send_jobs.id``)
    job_id: Mapped[int | None] = mapped_column(IdType)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PhaseClick(Base):
    """How many times the button of a campaign phase was tapped (the node's redirect counter):
    one row per (campaign, phase), a plain counter, no per-resident tracking."""

    __tablename__ = "phase_clicks"
    __table_args__ = (UniqueConstraint("campaign_id", "phase"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(IdType, ForeignKey("campaigns.id"))
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    phase: Mapped[str] = mapped_column(String(16))
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
