"""hub credential of a tenant (sealed) and the node's view of the hub key set

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import municipal_node.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hub_credential_sealed", sa.LargeBinary(), nullable=True))
    op.create_table(
        "hub_keysets",
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("hub", sa.String(length=64), nullable=False),
        sa.Column("issued_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("verified_at", municipal_node.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_hub_keysets_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_code", name=op.f("pk_hub_keysets")),
    )


def downgrade() -> None:
    op.drop_table("hub_keysets")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("hub_credential_sealed")
