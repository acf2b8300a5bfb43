"""Subscribers (registered municipal nodes) and the area index of accepted notices.

``notice_areas`` is backfilled from the stored payloads of notices accepted before it existed
(the payload is the verified RFC 8785 JSON, base64url without padding).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import base64
import json

import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _areas(payload: str) -> list[str]:
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    areas = json.loads(raw)["area"]
    return sorted({str(area) for area in areas})


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("municipality", sa.String(5), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("node_jwk", sa.JSON(), nullable=True),
        sa.Column("credential_sha256", sa.String(64), nullable=False),
        sa.Column("suspended_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("municipality", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("credential_sha256", name=op.f("uq_subscribers_credential_sha256")),
    )
    notice_areas = op.create_table(
        "notice_areas",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("area", sa.String(5), nullable=False),
        sa.ForeignKeyConstraint(["seq"], ["notices.seq"], name=op.f("fk_notice_areas_seq_notices")),
        sa.PrimaryKeyConstraint("seq", "area", name=op.f("pk_notice_areas")),
    )
    op.create_index("ix_notice_areas_area_seq", "notice_areas", ["area", "seq"], unique=False)

    connection = op.get_bind()
    notices = sa.table(
        "notices", sa.column("seq", sa.BigInteger()), sa.column("payload", sa.Text())
    )
    batch: list[dict[str, object]] = []
    for seq, payload in connection.execute(sa.select(notices.c.seq, notices.c.payload)):
        batch.extend({"seq": seq, "area": area} for area in _areas(payload))
        if len(batch) >= 1000:
            connection.execute(notice_areas.insert(), batch)
            batch = []
    if batch:
        connection.execute(notice_areas.insert(), batch)


def downgrade() -> None:
    op.drop_index("ix_notice_areas_area_seq", table_name="notice_areas")
    op.drop_table("notice_areas")
    op.drop_table("subscribers")
