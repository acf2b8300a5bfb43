from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class TaskState:
    PENDING = "pending"  # waiting for ``due_at`` (or for a retry after ``lease_until``)
    DONE = "done"  # its effect is committed
    MISSED = "missed"  # due while the node was down, older than the catch-up window: reported
    FAILED = "failed"  # gave up after repeated errors; ``last_error`` says why
    CANCELLED = "cancelled"  # the campaign / rule it belonged to was switched off or removed

    ALL = (PENDING, DONE, MISSED, FAILED, CANCELLED)


class ScheduledTask(Base):
    """One piece of due work: ``kind`` names the handler, ``key`` makes it unique per tenant
    (e.g. ``campaign:12:reminder``, ``recurring:3:2027-01-09``), ``payload`` is what the
    handler needs (no personal data). A claim sets ``claimed_by``/``lease_until``; a lease that
    runs out (a crashed process) makes the task claimable again."""

    __tablename__ = "scheduled_tasks"
    __table_args__ = (
        UniqueConstraint("tenant_code", "kind", "key"),
        Index("ix_scheduled_tasks_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
