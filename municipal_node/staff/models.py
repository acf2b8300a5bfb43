from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class StaffUser(Base):
    """A person who signs in to the admin API. Roles live per tenant in ``staff_roles``."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    #: argon2id PHC string; never logged, never returned
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: consecutive failed sign-ins since the last success or lock
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffRole(Base):
    """The one role a staff member holds on a tenant."""

    __tablename__ = "staff_roles"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'editor', 'approver', 'viewer')", name="role"),
        Index("ix_staff_roles_tenant_code", "tenant_code"),
    )

    staff_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("tenants.code"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))


class StaffSession(Base):
    """A sign-in session. Only the SHA-256 of the bearer token is stored."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_staff_id", "staff_id"),)

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
