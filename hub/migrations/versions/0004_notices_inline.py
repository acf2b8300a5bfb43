"""Notices stay inline and uncompressed (PostgreSQL ``toast_tuple_target``).

A stored notice is about 2.5 kB (the envelope's base64 strings and the receipt), just over
PostgreSQL's default TOAST threshold (~2 kB), so every insert tried to compress its columns;
base64 text does not compress enough, and no row was ever stored compressed: the attempt only
cost CPU on the hub's busiest path (measured with bench/hub_fanout.py: PostgreSQL's share of
ingest CPU fell by about a tenth). Rows up to the page size now stay as they are.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INLINE_UP_TO = 8160  # the largest value PostgreSQL accepts (a page minus its header)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE notices SET (toast_tuple_target = {INLINE_UP_TO})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE notices RESET (toast_tuple_target)")
