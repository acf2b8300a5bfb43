"""segments, message templates, relay rules and send approvals

Revision ID: 0006
Revises: 0005

``send_approvals.job_id`` names a send job of ``dispatch`` (created by 0007, after this), so it
has no foreign key; approvals are only written for jobs ``dispatch.control.get_job`` finds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import municipal_node.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = municipal_node.db.base.UTCDateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_code"], ["tenants.code"], name=op.f(f"fk_{table}_tenant_code_tenants")
    )


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        *_stamps(),
        _tenant_fk("segments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("tenant_code", "name", name=op.f("uq_segments_tenant_code_name")),
    )
    op.create_table(
        "message_templates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("button_label", sa.String(length=20), nullable=True),
        sa.Column("button_url", sa.String(length=2000), nullable=True),
        sa.Column("alt_text", sa.String(length=400), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("apply_url", sa.String(length=2000), nullable=True),
        *_stamps(),
        _tenant_fk("message_templates"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint(
            "tenant_code", "name", name=op.f("uq_message_templates_tenant_code_name")
        ),
    )
    op.create_table(
        "relay_rules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("publishers", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("categories", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("program_codes", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("areas", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("segment_id", _ID, nullable=True),
        sa.Column("extra", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("template_id", _ID, nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("two_person_threshold", sa.BigInteger(), nullable=True),
        *_stamps(),
        _tenant_fk("relay_rules"),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_relay_rules_segment_id_segments")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["message_templates.id"],
            name=op.f("fk_relay_rules_template_id_message_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_rules")),
        sa.UniqueConstraint("tenant_code", "name", name=op.f("uq_relay_rules_tenant_code_name")),
    )
    with op.batch_alter_table("relay_rules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_relay_rules_tenant_priority", ["tenant_code", "priority"], unique=False
        )
    op.create_table(
        "send_approvals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        _tenant_fk("send_approvals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_approvals")),
        sa.UniqueConstraint("job_id", "approver", name=op.f("uq_send_approvals_job_id_approver")),
    )


def downgrade() -> None:
    op.drop_table("send_approvals")
    with op.batch_alter_table("relay_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_relay_rules_tenant_priority")
    op.drop_table("relay_rules")
    op.drop_table("message_templates")
    op.drop_table("segments")
