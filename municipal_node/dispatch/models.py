from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class BatchState:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxBatch(Base):
    """≤ 500 LINE user ids to receive one notice, sent as one multicast.

    Written in the same transaction that marks the notice planned; the unique key makes a
    second planning of the same notice impossible, and ``retry_key`` (uuid5 of
    tenant/publisher/notice/batch) makes a resend after a crash a 409 at LINE, not a duplicate.
    """

    __tablename__ = "outbox_batches"
    __table_args__ = (
        UniqueConstraint("tenant_code", "publisher", "notice_id", "batch_no"),
        Index("ix_outbox_batches_tenant_state", "tenant_code", "state"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    publisher: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(26))
    batch_no: Mapped[int] = mapped_column(Integer)
    user_ids: Mapped[list[str]] = mapped_column(JSON)
    recipient_count: Mapped[int] = mapped_column(Integer)
    retry_key: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: {household type or "none": residents} at planning time (aggregates only)
    household_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    #: recipients actually sent to after the send-time friendship re-check
    sent_count: Mapped[int | None] = mapped_column(Integer)
    sent_household_counts: Mapped[dict[str, int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
