"""The table of delivery reports: the latest signed report per (municipality, notice, phase)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime


class DeliveryReport(Base):
    """A node's report (CONTRACT §6) as accepted: the counts it published (``None`` where it
    withheld one), and the exact signed envelope as evidence. No resident identifiers: a report
    has none. Replaced only by a report of the same key with a later ``as_of``."""

    __tablename__ = "delivery_reports"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["publisher_id", "notice_id"], ["notices.publisher_id", "notices.notice_id"]
        ),
    )

    publisher_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    notice_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    phase: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    municipality: Mapped[str] = mapped_column(
        sa.String(5), sa.ForeignKey("subscribers.municipality"), primary_key=True
    )
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    targeted: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    sent: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    failed: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    blocked: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    opened: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    clicked: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    applied: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    kid: Mapped[str] = mapped_column(sa.String(100))
    digest: Mapped[str] = mapped_column(sa.String(64))  # SHA-256 of the payload bytes
    protected: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
    signature: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
