"""Tables of the subscriber side: registered municipal nodes and the area index of notices."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime


class Subscriber(Base):
    """A municipal node tenant allowed to read the feed and subscribe to hints.

    Only the SHA-256 of the bearer credential is stored; the credential itself is shown once.
    """

    __tablename__ = "subscribers"

    municipality: Mapped[str] = mapped_column(sa.String(5), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    node_jwk: Mapped[dict[str, str] | None] = mapped_column(sa.JSON, nullable=True)
    credential_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NoticeArea(Base):
    """One area code of an accepted notice (its ``area`` list, normalised at publish time), so
    the feed filters a subscriber's notices in SQL through ``ix_notice_areas_area_seq``."""

    __tablename__ = "notice_areas"
    __table_args__ = (sa.Index("ix_notice_areas_area_seq", "area", "seq"),)

    seq: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("notices.seq"), primary_key=True, autoincrement=False
    )
    area: Mapped[str] = mapped_column(sa.String(5), primary_key=True)
