"""campaign phases keep staff's own wording, so an Update can render it again

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign_phases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("custom_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("custom_alt_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_phases", schema=None) as batch_op:
        batch_op.drop_column("custom_alt_text")
        batch_op.drop_column("custom_text")
