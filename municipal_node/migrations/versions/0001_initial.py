"""initial

Revision ID: 0001
Revises:
Create Date: 2026-12-03 12:53:55.818737
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import municipal_node.db.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("hub_url", sa.String(length=2000), nullable=False),
        sa.Column("hub_root_keys", sa.JSON(), nullable=False),
        sa.Column("line_channel_secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("line_access_token_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("line_api_base_url", sa.String(length=2000), nullable=False),
        sa.Column("feed_cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_tenants")),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_code", sa.String(length=5), nullable=True),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_audit_log_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_tenant_at", ["tenant_code", "at"], unique=False)

    op.create_table(
        "feed_rejections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=True),
        sa.Column("notice_id", sa.String(length=26), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("rejected_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_feed_rejections_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_rejections")),
        sa.UniqueConstraint("tenant_code", "seq", name=op.f("uq_feed_rejections_tenant_code_seq")),
    )
    op.create_table(
        "line_friends",
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("user_id", sa.String(length=33), nullable=False),
        sa.Column("is_friend", sa.Boolean(), nullable=False),
        sa.Column("last_event_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_line_friends_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_code", "user_id", name=op.f("pk_line_friends")),
    )
    op.create_table(
        "line_webhook_events",
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("webhook_event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("received_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"],
            ["tenants.code"],
            name=op.f("fk_line_webhook_events_tenant_code_tenants"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_code", "webhook_event_id", name=op.f("pk_line_webhook_events")
        ),
    )
    op.create_table(
        "notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=False),
        sa.Column("notice_id", sa.String(length=26), nullable=False),
        sa.Column("document_id", sa.String(length=26), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("program_code", sa.String(length=64), nullable=False),
        sa.Column("headline", sa.String(length=200), nullable=False),
        sa.Column("effective", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("targeted", sa.Integer(), nullable=False),
        sa.Column("updated_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_notices_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint(
            "tenant_code",
            "publisher",
            "notice_id",
            name=op.f("uq_notices_tenant_code_publisher_notice_id"),
        ),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_tenant_state", ["tenant_code", "state"], unique=False)

    op.create_table(
        "outbox_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=False),
        sa.Column("notice_id", sa.String(length=26), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("user_ids", sa.JSON(), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("retry_key", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("household_counts", sa.JSON(), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=True),
        sa.Column("sent_household_counts", sa.JSON(), nullable=True),
        sa.Column("created_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_outbox_batches_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_batches")),
        sa.UniqueConstraint(
            "tenant_code",
            "publisher",
            "notice_id",
            "batch_no",
            name=op.f("uq_outbox_batches_tenant_code_publisher_notice_id_batch_no"),
        ),
    )
    with op.batch_alter_table("outbox_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_batches_tenant_state", ["tenant_code", "state"], unique=False
        )

    op.create_table(
        "residents",
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("line_user_id", sa.String(length=33), nullable=True),
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("updated_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_residents_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_code", "resident_id", name=op.f("pk_residents")),
        sa.UniqueConstraint(
            "tenant_code", "line_user_id", name=op.f("uq_residents_tenant_code_line_user_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("residents")
    with op.batch_alter_table("outbox_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_batches_tenant_state")

    op.drop_table("outbox_batches")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_tenant_state")

    op.drop_table("notices")
    op.drop_table("line_webhook_events")
    op.drop_table("line_friends")
    op.drop_table("feed_rejections")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_tenant_at")

    op.drop_table("audit_log")
    op.drop_table("tenants")
