"""recurring notices (RRULE + business-day adjustment) and date triggers (settings per tenant,
one fire per child and trigger)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import municipal_node.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = municipal_node.db.base.UTCDateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_code"], ["tenants.code"], name=op.f(f"fk_{table}_tenant_code_tenants")
    )


def _template_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["template_id"],
        ["message_templates.id"],
        name=op.f(f"fk_{table}_template_id_message_templates"),
    )


def upgrade() -> None:
    op.create_table(
        "recurring_rules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("send_time", sa.String(length=5), nullable=False),
        sa.Column("adjust", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("headline", sa.String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("template_id", _ID, nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        _tenant_fk("recurring_rules"),
        _template_fk("recurring_rules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recurring_rules")),
        sa.UniqueConstraint(
            "tenant_code", "name", name=op.f("uq_recurring_rules_tenant_code_name")
        ),
    )
    op.create_table(
        "trigger_settings",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("headline", sa.String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("template_id", _ID, nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        _tenant_fk("trigger_settings"),
        _template_fk("trigger_settings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_settings")),
        sa.UniqueConstraint(
            "tenant_code", "trigger", name=op.f("uq_trigger_settings_tenant_code_trigger")
        ),
    )
    op.create_table(
        "trigger_fires",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("fire_key", sa.String(length=26), nullable=False),
        sa.Column("line_user_id", sa.String(length=33), nullable=False),
        sa.Column("fired_at", _TIME, nullable=False),
        _tenant_fk("trigger_fires"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_fires")),
        sa.UniqueConstraint(
            "tenant_code",
            "trigger",
            "subject_key",
            name=op.f("uq_trigger_fires_tenant_code_trigger_subject_key"),
        ),
    )
    op.create_index(
        "ix_trigger_fires_tenant_fire_user",
        "trigger_fires",
        ["tenant_code", "fire_key", "line_user_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_trigger_fires_tenant_fire_user", table_name="trigger_fires")
    op.drop_table("trigger_fires")
    op.drop_table("trigger_settings")
    op.drop_table("recurring_rules")
