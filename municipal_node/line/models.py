from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


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


class InboxState:
    PENDING = "pending"  # stored by the webhook, not yet acted on
    REPLYING = "replying"  # effects committed, the reply (if any) not yet confirmed
    DONE = "done"
    FAILED = "failed"


class LineInboxEvent(Base):
    """One webhook event, stored durably by the webhook before LINE gets its 200.

    The unique key dedupes redeliveries. The inbox worker acts on ``pending`` rows in ``id``
    order: it applies the event's effects and stores the reply in one transaction (state
    ``replying``), then sends the reply with the event's reply token and marks the row ``done``.
    A message's text is removed from ``payload`` once acted on.
    """

    __tablename__ = "line_inbox"
    __table_args__ = (
        UniqueConstraint("tenant_code", "webhook_event_id"),
        Index("ix_line_inbox_tenant_state_id", "tenant_code", "state", "id"),
        Index("ix_line_inbox_tenant_user", "tenant_code", "user_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    webhook_event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(33))
    #: the event object as LINE sent it (message text removed after processing)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: {"token": reply token, "messages": [...]} once decided; generic texts only
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FriendPreference(Base):
    """受信設定 of one friend: topics, "stop all", and household types they chose to declare.

    No row = no topics, not stopped, nothing declared. ``declared_sealed`` is AES-GCM of
    ``{"household": [...]}`` with associated data ``f"{tenant}:friend:{user_id}"``.
    """

    __tablename__ = "friend_preferences"

    tenant_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("tenants.code"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(33), primary_key=True)
    topics: Mapped[list[str]] = mapped_column(JSON)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    declared_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
