"""recurring notices and date triggers (placeholder: filled by the change that adds these tables)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
