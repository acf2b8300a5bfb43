"""Publishers, their keys, accepted notices, the seq counter and alarms.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publishers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publishers")),
    )
    op.create_table(
        "publisher_keys",
        sa.Column("kid", sa.String(100), nullable=False),
        sa.Column("publisher_id", sa.String(64), nullable=False),
        sa.Column("x", sa.String(64), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_publisher_keys_publisher_id_publishers"),
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_publisher_keys")),
    )
    op.create_index(
        op.f("ix_publisher_keys_publisher_id"), "publisher_keys", ["publisher_id"], unique=False
    )
    op.create_table(
        "notices",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("publisher_id", sa.String(64), nullable=False),
        sa.Column("notice_id", sa.String(26), nullable=False),
        sa.Column("document_id", sa.String(26), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kid", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("protected", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("receipt_protected", sa.Text(), nullable=False),
        sa.Column("receipt_payload", sa.Text(), nullable=False),
        sa.Column("receipt_signature", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kid"], ["publisher_keys.kid"], name=op.f("fk_notices_kid_publisher_keys")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["publishers.id"], name=op.f("fk_notices_publisher_id_publishers")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_notices")),
        sa.UniqueConstraint(
            "publisher_id", "notice_id", name=op.f("uq_notices_publisher_id_notice_id")
        ),
    )
    op.create_index(
        "ix_notices_publisher_document", "notices", ["publisher_id", "document_id"], unique=False
    )
    op.create_table(
        "notice_sequence",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_notice_sequence_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_sequence")),
    )
    op.execute("INSERT INTO notice_sequence (id, last_seq) VALUES (1, 0)")
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("publisher_id", sa.String(64), nullable=False),
        sa.Column("notice_id", sa.String(26), nullable=False),
        sa.Column("kid", sa.String(100), nullable=False),
        sa.Column("stored_digest", sa.String(64), nullable=False),
        sa.Column("received_digest", sa.String(64), nullable=False),
        sa.Column("protected", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )


def downgrade() -> None:
    op.drop_table("alarms")
    op.drop_table("notice_sequence")
    op.drop_index("ix_notices_publisher_document", table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_publisher_keys_publisher_id"), table_name="publisher_keys")
    op.drop_table("publisher_keys")
    op.drop_table("publishers")
