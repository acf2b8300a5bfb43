from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class RecurringRule(Base):
    """A local notice sent on a schedule: "児童扶養手当 is paid on the 11th of odd months;
    notify two days before, on the previous business day when the 11th is a holiday".

    ``rrule`` is one RFC 5545 RRULE value (``recurring.dates``); the scheduler always holds the
    next occurrence as a ``recurring`` task. Messages are generic (``headline``/``body`` with
    ``{日付}``, rendered with a saved template or the default one); nothing personal is stored.
    Rules are switched off, never deleted: their id is part of the jobs' ``notice_id``.
    """

    __tablename__ = "recurring_rules"
    __table_args__ = (UniqueConstraint("tenant_code", "name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    name: Mapped[str] = mapped_column(String(100))
    rrule: Mapped[str] = mapped_column(String(500))
    starts_on: Mapped[date] = mapped_column(Date)
    lead_days: Mapped[int] = mapped_column(Integer)
    #: "HH:MM" in JST
    send_time: Mapped[str] = mapped_column(String(5))
    #: "previous" / "next" / "none" (business-day adjustment of the event day)
    adjust: Mapped[str] = mapped_column(String(16))
    #: ``SegmentSpec`` JSON
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    headline: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    template_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("message_templates.id"))
    #: "auto" or "approval"
    mode: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
