from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class DeliveryReport(Base):
    """The last delivery report of one (notice, phase) this node submitted to the hub.

    ``digest`` is SHA-256 over what the report says apart from ``as_of`` (counts and
    ``suppressed``): a report is submitted again only when it changed. ``counts`` are the
    published (suppressed) counts as sent; nothing here names a resident.
    """

    __tablename__ = "delivery_reports"
    __table_args__ = (UniqueConstraint("tenant_code", "publisher", "notice_id", "phase"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    publisher: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(26))
    #: CONTRACT §6 phase: preview, open, reminder or single
    phase: Mapped[str] = mapped_column(String(16))
    #: what was last accepted by the hub (None while nothing was)
    digest: Mapped[str | None] = mapped_column(String(64))
    as_of: Mapped[datetime | None] = mapped_column(UTCDateTime())
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: failed submissions since the last accepted one, and why the last one failed
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
