from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, UTCDateTime


class Resident(Base):
    """A resident record imported from the core system.

    ``sealed`` holds household types, children's birth dates and programs as AES-GCM
    encrypted JSON (associated data ``"resident:<tenant>:<resident_id>"``). ``district`` and
    ``line_user_id`` stay plain: selection and LINE linking need them in SQL. ``line_user_id``
    is set by ID連携 (``municipal_node.linking``) or by a CSV value; an import never clears it.
    """

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("tenant_code", "line_user_id"),)

    tenant_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("tenants.code"), primary_key=True
    )
    resident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    district: Mapped[str] = mapped_column(String(64))
    line_user_id: Mapped[str | None] = mapped_column(String(33))
    #: keyed digest of the row's CSV content (``Sealer.digest``): an import skips unchanged
    #: rows; None (after a key rotation) = rewrite on the next import
    digest: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
