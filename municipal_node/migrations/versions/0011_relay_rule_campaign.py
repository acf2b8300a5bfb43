"""relay rules can turn a notice with an application window into a campaign

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("relay_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("campaign", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("relay_rules", schema=None) as batch_op:
        batch_op.drop_column("campaign")
