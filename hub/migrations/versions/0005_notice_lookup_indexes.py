"""Indexes that lead with the looked-up ids: ``notices(notice_id)`` and
``notices(document_id, publisher_id)`` (replacing ``(publisher_id, document_id)``).

Publishing reads a batch's notices by id and its documents' revisions in one query
(``PublisherRepository.notices_and_revisions``). With the publisher first in both indexes,
PostgreSQL's cached (generic) plan for that query took "publisher = $1" for the selective part
and read every notice of the publisher for each batch: ingest slowed as the table grew (and
``notice_id_used_by_other``, which filters by id alone, had no index at all). The ids are what
select; the unique ``(publisher_id, notice_id)`` constraint stays as it is.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notices_notice_id", "notices", ["notice_id"])
    op.create_index(
        "ix_notices_document_id_publisher_id", "notices", ["document_id", "publisher_id"]
    )
    op.drop_index("ix_notices_publisher_document", table_name="notices")


def downgrade() -> None:
    op.create_index("ix_notices_publisher_document", "notices", ["publisher_id", "document_id"])
    op.drop_index("ix_notices_document_id_publisher_id", table_name="notices")
    op.drop_index("ix_notices_notice_id", table_name="notices")
