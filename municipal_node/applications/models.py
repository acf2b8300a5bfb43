from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class ApplicationChannel:
    ONLINE = "online"  # the LIFF form
    COUNTER = "counter"  # 窓口・郵送 (imported from the core system)


class Application(Base):
    """One application to one campaign.

    Online: ``line_user_id`` is the verified LIFF ID token's ``sub`` (and ``resident_id`` the
    linked record, if any). Counter: ``resident_id`` from the CSV (``line_user_id`` the record's
    link at import time, if any). A resident counts as applied when either matches. Answers are
    sealed (AES-GCM, associated data ``application:<tenant>:<campaign>:<receipt_no>``).
    """

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("campaign_id", "line_user_id"),
        UniqueConstraint("campaign_id", "resident_id"),
        UniqueConstraint("tenant_code", "receipt_no"),
        Index("ix_applications_campaign_applied", "campaign_id", "applied_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    campaign_id: Mapped[int] = mapped_column(IdType, ForeignKey("campaigns.id"))
    line_user_id: Mapped[str | None] = mapped_column(String(33))
    resident_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: shown to the resident as the receipt (受付番号); random, not derived from any identifier
    receipt_no: Mapped[str] = mapped_column(String(16))
    answers_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
