"""Tables of the publisher registry and of the notices the hub accepted."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime

SEQUENCE_ROW_ID = 1


class Publisher(Base):
    __tablename__ = "publishers"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PublisherKey(Base):
    """One Ed25519 public key of a publisher, with its validity window and scope."""

    __tablename__ = "publisher_keys"

    kid: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    publisher_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("publishers.id"), index=True
    )
    x: Mapped[str] = mapped_column(sa.String(64))  # base64url of the 32-byte public key
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    areas: Mapped[list[str]] = mapped_column(sa.JSON)
    categories: Mapped[list[str]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StoredNotice(Base):
    """An accepted notice: the exact received envelope strings and the hub's receipt."""

    __tablename__ = "notices"
    __table_args__ = (
        sa.UniqueConstraint("publisher_id", "notice_id"),
        # lookups select by id first (migration 0005)
        sa.Index("ix_notices_notice_id", "notice_id"),
        sa.Index("ix_notices_document_id_publisher_id", "document_id", "publisher_id"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    publisher_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("publishers.id"))
    notice_id: Mapped[str] = mapped_column(sa.String(26))
    document_id: Mapped[str] = mapped_column(sa.String(26))
    revision: Mapped[int] = mapped_column(sa.Integer)
    msg_type: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    kid: Mapped[str] = mapped_column(sa.String(100), sa.ForeignKey("publisher_keys.kid"))
    digest: Mapped[str] = mapped_column(sa.String(64))
    protected: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
    signature: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    receipt_protected: Mapped[str] = mapped_column(sa.Text)
    receipt_payload: Mapped[str] = mapped_column(sa.Text)
    receipt_signature: Mapped[str] = mapped_column(sa.Text)


NOTICES_TABLE = cast(sa.Table, StoredNotice.__table__)  # for Core statements on ``notices``


class NoticeSequence(Base):
    """The single row holding the last assigned ``seq``.

    Incremented with ``UPDATE … RETURNING`` in the transaction that stores the notice: a
    rollback leaves no gap, and on PostgreSQL the row lock orders concurrent publishers.
    """

    __tablename__ = "notice_sequence"
    __table_args__ = (sa.CheckConstraint(f"id = {SEQUENCE_ROW_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger)


class Alarm(Base):
    """Something an operator must look at, e.g. a publisher key that signed two versions of
    one notice (equivocation). Keeps the conflicting envelope as evidence; notices carry no
    personal data."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    publisher_id: Mapped[str] = mapped_column(sa.String(64))
    notice_id: Mapped[str] = mapped_column(sa.String(26))
    kid: Mapped[str] = mapped_column(sa.String(100))
    stored_digest: Mapped[str] = mapped_column(sa.String(64))
    received_digest: Mapped[str] = mapped_column(sa.String(64))
    protected: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
    signature: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
