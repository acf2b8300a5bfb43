"""delivery reports: the last report of each (notice, phase) submitted to the hub

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import municipal_node.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = municipal_node.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "delivery_reports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=False),
        sa.Column("notice_id", sa.String(length=26), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("as_of", _TIME, nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("submitted_at", _TIME, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_delivery_reports_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_reports")),
        sa.UniqueConstraint(
            "tenant_code",
            "publisher",
            "notice_id",
            "phase",
            name=op.f("uq_delivery_reports_tenant_code_publisher_notice_id_phase"),
        ),
    )


def downgrade() -> None:
    op.drop_table("delivery_reports")
