from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class CodeState:
    ISSUED = "issued"
    USED = "used"
    REVOKED = "revoked"
    EXPIRED = "expired"  # never stored: an issued code past ``expires_at``


class RegistrationCodeIssue(Base):
    """One batch of registration codes issued by staff (one letter per resident)."""

    __tablename__ = "registration_code_issues"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"), index=True)
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    #: set when the letters were rendered; the sealed codes are erased at that moment
    letters_rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RegistrationCode(Base):
    """A one-time code for one resident record.

    ``digest`` = HMAC-SHA256(lookup key, ``"<tenant>:<code>"``): finds a code without
    decrypting any. ``sealed`` (AES-GCM, aad ``"<tenant>:regcode:<issue>:<resident>"``) is kept
    only until the letters are rendered, so the printed letter is the only copy left.
    """

    __tablename__ = "registration_codes"
    __table_args__ = (
        UniqueConstraint("tenant_code", "digest"),
        UniqueConstraint("issue_id", "resident_id"),
        Index("ix_registration_codes_tenant_resident", "tenant_code", "resident_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    issue_id: Mapped[int] = mapped_column(IdType, ForeignKey("registration_code_issues.id"))
    resident_id: Mapped[str] = mapped_column(String(64))
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LinkNonce(Base):
    """A nonce handed to LINE's account-link dialog, bound to one LINE user and one code.

    Only its SHA-256 is stored; it is good for 10 minutes and once."""

    __tablename__ = "link_nonces"
    __table_args__ = (UniqueConstraint("tenant_code", "nonce_digest"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    nonce_digest: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(33))
    code_id: Mapped[int] = mapped_column(IdType, ForeignKey("registration_codes.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LinkAttempt(Base):
    """A registration code a LINE user sent (never the code itself): throttles guessing."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index("ix_link_attempts_tenant_user_at", "tenant_code", "user_id", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    user_id: Mapped[str] = mapped_column(String(33))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
