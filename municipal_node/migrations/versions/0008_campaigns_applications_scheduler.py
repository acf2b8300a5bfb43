"""campaigns with phases, applications, phase click counters, scheduled tasks; send jobs
can exclude a campaign's applicants (reminders)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import municipal_node.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = municipal_node.db.base.UTCDateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_code"], ["tenants.code"], name=op.f(f"fk_{table}_tenant_code_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=False),
        sa.Column("notice_id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("opens_at", _TIME, nullable=False),
        sa.Column("closes_at", _TIME, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=False),
        sa.Column("quiet_end", sa.String(length=5), nullable=False),
        sa.Column("skip_holidays", sa.Boolean(), nullable=False),
        sa.Column("baseline_rate", sa.Float(), nullable=True),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        _tenant_fk("campaigns"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint(
            "tenant_code",
            "publisher",
            "notice_id",
            name=op.f("uq_campaigns_tenant_code_publisher_notice_id"),
        ),
    )
    op.create_index("ix_campaigns_tenant_state", "campaigns", ["tenant_code", "state"])
    op.create_table(
        "campaign_phases",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("send_at", _TIME, nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("job_id", _ID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_phases_campaign_id_campaigns")
        ),
        _tenant_fk("campaign_phases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_phases")),
        sa.UniqueConstraint(
            "campaign_id", "phase", name=op.f("uq_campaign_phases_campaign_id_phase")
        ),
    )
    op.create_table(
        "phase_clicks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_phase_clicks_campaign_id_campaigns")
        ),
        _tenant_fk("phase_clicks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phase_clicks")),
        sa.UniqueConstraint("campaign_id", "phase", name=op.f("uq_phase_clicks_campaign_id_phase")),
    )
    op.create_table(
        "applications",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("line_user_id", sa.String(length=33), nullable=True),
        sa.Column("resident_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("applied_at", _TIME, nullable=False),
        sa.Column("receipt_no", sa.String(length=16), nullable=False),
        sa.Column("answers_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_applications_campaign_id_campaigns")
        ),
        _tenant_fk("applications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint(
            "campaign_id", "line_user_id", name=op.f("uq_applications_campaign_id_line_user_id")
        ),
        sa.UniqueConstraint(
            "campaign_id", "resident_id", name=op.f("uq_applications_campaign_id_resident_id")
        ),
        sa.UniqueConstraint(
            "tenant_code", "receipt_no", name=op.f("uq_applications_tenant_code_receipt_no")
        ),
    )
    op.create_index(
        "ix_applications_campaign_applied", "applications", ["campaign_id", "applied_at"]
    )
    op.create_table(
        "scheduled_tasks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("due_at", _TIME, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("done_at", _TIME, nullable=True),
        _tenant_fk("scheduled_tasks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_tasks")),
        sa.UniqueConstraint(
            "tenant_code", "kind", "key", name=op.f("uq_scheduled_tasks_tenant_code_kind_key")
        ),
    )
    op.create_index("ix_scheduled_tasks_state_due", "scheduled_tasks", ["state", "due_at"])
    with op.batch_alter_table("send_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exclude_campaign_id", _ID, nullable=True))
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_key_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("node_kid", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("liff_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("login_channel_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("public_base_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        for column in ("public_base_url", "login_channel_id", "liff_id", "node_kid"):
            batch_op.drop_column(column)
        batch_op.drop_column("node_key_sealed")
    with op.batch_alter_table("send_jobs", schema=None) as batch_op:
        batch_op.drop_column("exclude_campaign_id")
    op.drop_index("ix_scheduled_tasks_state_due", table_name="scheduled_tasks")
    op.drop_table("scheduled_tasks")
    op.drop_index("ix_applications_campaign_applied", table_name="applications")
    op.drop_table("applications")
    op.drop_table("phase_clicks")
    op.drop_table("campaign_phases")
    op.drop_index("ix_campaigns_tenant_state", table_name="campaigns")
    op.drop_table("campaigns")
