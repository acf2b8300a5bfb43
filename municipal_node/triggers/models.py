from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime


class TriggerSetting(Base):
    """A date trigger (``triggers.definitions``) as one tenant uses it: on/off, wording
    (generic: ``headline``/``body``, a saved template or the default one), send mode."""

    __tablename__ = "trigger_settings"
    __table_args__ = (UniqueConstraint("tenant_code", "trigger"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    trigger: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean)
    headline: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    template_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("message_templates.id"))
    #: "auto" or "approval"
    mode: Mapped[str] = mapped_column(String(16))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TriggerFire(Base):
    """One trigger fired for one child of one linked resident.

    ``subject_key`` is a keyed digest (``Sealer.digest``) of the resident id and the child's
    birth date — never the raw id; the unique key makes each child get each trigger once,
    whatever runs twice. ``fire_key`` (one per trigger and day) is what the day's send job
    names in its spec (``{"source": "trigger_fires", "fire_key": …}``).
    """

    __tablename__ = "trigger_fires"
    __table_args__ = (
        UniqueConstraint("tenant_code", "trigger", "subject_key"),
        Index("ix_trigger_fires_tenant_fire_user", "tenant_code", "fire_key", "line_user_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    trigger: Mapped[str] = mapped_column(String(32))
    subject_key: Mapped[str] = mapped_column(String(64))
    fire_key: Mapped[str] = mapped_column(String(26))
    line_user_id: Mapped[str] = mapped_column(String(33))
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
