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
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class MessageTemplate(Base):
    """A tenant's local wording of relayed notices. Placeholders only name notice, tenant and
    template fields (``relay_rules.placeholders``); checked on every save."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("tenant_code", "name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    name: Mapped[str] = mapped_column(String(100))
    #: the text message, with placeholders such as {自治体名} {見出し}
    text: Mapped[str] = mapped_column(Text)
    button_label: Mapped[str | None] = mapped_column(String(20))
    #: https URL or "{受付URL}"
    button_url: Mapped[str | None] = mapped_column(String(2000))
    alt_text: Mapped[str | None] = mapped_column(String(400))
    department: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    apply_url: Mapped[str | None] = mapped_column(String(2000))
    created_by: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RelayRule(Base):
    """Which relayed notices go to whom, in which wording, sent how (auto or approval).

    Rules are tried by ``priority`` (smallest first), then ``id``; the first enabled rule
    whose every match list holds wins. A null list matches anything."""

    __tablename__ = "relay_rules"
    __table_args__ = (
        UniqueConstraint("tenant_code", "name"),
        Index("ix_relay_rules_tenant_priority", "tenant_code", "priority"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    publishers: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    categories: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    program_codes: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    areas: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    #: null = the notice's own audience
    segment_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("segments.id"))
    #: ``LocalCriteria`` JSON narrowing the segment/audience, or null
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: null = the built-in default template
    template_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("message_templates.id"))
    #: "auto" or "approval"
    mode: Mapped[str] = mapped_column(String(16))
    #: approval by two different approvers when the targeted count is above this
    two_person_threshold: Mapped[int | None] = mapped_column(BigInteger)
    #: a notice with an application window (``action.opens``/``closes``) becomes a campaign
    #: (予告 → 受付開始 → 締切前リマインド) instead of one send
    campaign: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SendApproval(Base):
    """One approver's approval of one held send job (``dispatch``'s job id). The key makes
    a second approval by the same person impossible: it counts once."""

    __tablename__ = "send_approvals"
    __table_args__ = (UniqueConstraint("job_id", "approver"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    job_id: Mapped[int] = mapped_column(IdType)
    approver: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
