from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class NoticeState:
    """Life of a stored notice at this node."""

    STORED = "stored"  # verified and stored; waiting for its send job
    PLANNED = "planned"  # send job created; recipients being selected into outbox batches
    HELD = "held"  # planned, waiting for an approver (``dispatch.control.release``)
    SENDING = "sending"  # planned; batches going out
    DONE = "done"  # no batch pending any more
    CANCELLED = "cancelled"  # stopped (staff, hub Cancel, superseded by an Update); see reason
    FAILED = "failed"  # could not be sent at all; ``state_reason`` says why
    SKIPPED = "skipped"  # will not be sent; ``state_reason`` says why

    ALL = (STORED, PLANNED, HELD, SENDING, DONE, CANCELLED, FAILED, SKIPPED)


class StoredNotice(Base):
    """A verified notice from the hub feed whose area covers this tenant."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("tenant_code", "publisher", "notice_id"),
        Index("ix_notices_tenant_state", "tenant_code", "state"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    publisher: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(26))
    document_id: Mapped[str] = mapped_column(String(26))
    revision: Mapped[int] = mapped_column(Integer)
    msg_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    program_code: Mapped[str] = mapped_column(String(64))
    headline: Mapped[str] = mapped_column(String(200))
    effective: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime())
    # verification result
    seq: Mapped[int] = mapped_column(BigInteger)
    kid: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the exact signed objects as read from the feed: {"protected","payload","signature"}
    envelope: Mapped[dict[str, str]] = mapped_column(JSON)
    receipt: Mapped[dict[str, str]] = mapped_column(JSON)
    # local processing
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str | None] = mapped_column(Text)
    targeted: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeedRejection(Base):
    """A feed item that failed verification; the cursor moved past it."""

    __tablename__ = "feed_rejections"
    __table_args__ = (UniqueConstraint("tenant_code", "seq"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    seq: Mapped[int] = mapped_column(BigInteger)
    #: from the receipt, when the receipt itself verified
    publisher: Mapped[str | None] = mapped_column(String(64))
    notice_id: Mapped[str | None] = mapped_column(String(26))
    code: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class HubKeySet(Base):
    """The newest hub key set this tenant's follower verified (the node's view of the keys).

    Kept so operators can see which publisher keys the node trusts, with their revocations
    (``todoke node keyset``), and which signed object that view came from.
    """

    __tablename__ = "hub_keysets"

    tenant_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("tenants.code"), primary_key=True
    )
    hub: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the signed key set exactly as read: {"protected","payload","signature"}
    envelope: Mapped[dict[str, str]] = mapped_column(JSON)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
