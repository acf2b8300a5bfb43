from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, UTCDateTime


class Resident(Base):
    """A resident record imported from the core system.

    ``sealed`` holds household types, children's birth dates and programs as AES-GCM
    encrypted JSON (associated data ``"<tenant>:<resident_id>"``). ``district`` and
    ``line_user_id`` stay plain: selection and LINE linking need them in SQL.
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
    #: the import that last wrote this row; rows of older imports are removed
    import_id: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
