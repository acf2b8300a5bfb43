"""Delivery reports of municipal nodes (CONTRACT §6): the latest per (notice, phase, municipality).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNTS = ("targeted", "sent", "failed", "blocked", "opened", "clicked", "applied")


def upgrade() -> None:
    op.create_table(
        "delivery_reports",
        sa.Column("publisher_id", sa.String(64), nullable=False),
        sa.Column("notice_id", sa.String(26), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("municipality", sa.String(5), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=True) for name in COUNTS),
        sa.Column("kid", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("protected", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publisher_id", "notice_id"],
            ["notices.publisher_id", "notices.notice_id"],
            name=op.f("fk_delivery_reports_publisher_id_notices"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality"],
            ["subscribers.municipality"],
            name=op.f("fk_delivery_reports_municipality_subscribers"),
        ),
        sa.PrimaryKeyConstraint(
            "publisher_id", "notice_id", "phase", "municipality", name=op.f("pk_delivery_reports")
        ),
    )


def downgrade() -> None:
    op.drop_table("delivery_reports")
