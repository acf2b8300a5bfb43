from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, UTCDateTime


class LineFriend(Base):
    """Whether a LINE user currently follows the tenant's official account."""

    __tablename__ = "line_friends"

    tenant_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("tenants.code"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(33), primary_key=True)
    is_friend: Mapped[bool] = mapped_column(Boolean)
    #: LINE event timestamp (ms) of the event that set ``is_friend``; older events lose
    last_event_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LineWebhookEvent(Base):
    """Seen webhook event ids: LINE redelivers identical events; the key dedupes them."""

    __tablename__ = "line_webhook_events"

    tenant_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("tenants.code"), primary_key=True
    )
    webhook_event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
