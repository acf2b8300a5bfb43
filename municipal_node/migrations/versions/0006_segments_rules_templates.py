"""segments rules templates (placeholder: filled in by the change that owns it)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
