"""line inbox, friend preferences, registration codes and account linking

Revision ID: 0004
Revises: 0003

``line_webhook_events`` (dedupe only) is folded into ``line_inbox``: its ids are copied as
``done`` rows with an empty payload, so a redelivery after the upgrade is still recognised.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import municipal_node.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = municipal_node.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "line_inbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("webhook_event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=33), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("reply", sa.JSON(), nullable=True),
        sa.Column("processed_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_line_inbox_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_inbox")),
        sa.UniqueConstraint(
            "tenant_code",
            "webhook_event_id",
            name=op.f("uq_line_inbox_tenant_code_webhook_event_id"),
        ),
    )
    with op.batch_alter_table("line_inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_line_inbox_tenant_state_id", ["tenant_code", "state", "id"], unique=False
        )
        batch_op.create_index("ix_line_inbox_tenant_user", ["tenant_code", "user_id"], unique=False)

    seen = sa.table(
        "line_webhook_events",
        sa.column("tenant_code"),
        sa.column("webhook_event_id"),
        sa.column("event_type"),
        sa.column("received_at"),
    )
    inbox = sa.table(
        "line_inbox",
        *(
            sa.column(name)
            for name in (
                "tenant_code", "webhook_event_id", "type", "user_id", "payload", "received_at",
                "state", "attempts", "last_error", "reply", "processed_at",
            )
        ),
    )  # fmt: skip
    postgres = op.get_bind().dialect.name == "postgresql"
    empty = sa.cast(sa.literal("{}"), sa.JSON()) if postgres else sa.literal("{}")
    op.execute(
        inbox.insert().from_select(
            [c.name for c in inbox.columns],
            sa.select(
                seen.c.tenant_code,
                seen.c.webhook_event_id,
                seen.c.event_type,
                sa.null(),
                empty,
                seen.c.received_at,
                sa.literal("done"),
                sa.literal(0),
                sa.null(),
                sa.null(),
                seen.c.received_at,
            ).order_by(seen.c.received_at),
        )
    )
    op.drop_table("line_webhook_events")

    op.create_table(
        "friend_preferences",
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("user_id", sa.String(length=33), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("declared_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"],
            ["tenants.code"],
            name=op.f("fk_friend_preferences_tenant_code_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_code", "user_id", name=op.f("pk_friend_preferences")),
    )

    op.create_table(
        "registration_code_issues",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("issued_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("letters_rendered_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_code"],
            ["tenants.code"],
            name=op.f("fk_registration_code_issues_tenant_code_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_code_issues")),
    )
    with op.batch_alter_table("registration_code_issues", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registration_code_issues_tenant_code"), ["tenant_code"], unique=False
        )

    op.create_table(
        "registration_codes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("issue_id", _ID, nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("used_at", _TIME, nullable=True),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["registration_code_issues.id"],
            name=op.f("fk_registration_codes_issue_id_registration_code_issues"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_code"],
            ["tenants.code"],
            name=op.f("fk_registration_codes_tenant_code_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_codes")),
        sa.UniqueConstraint(
            "issue_id", "resident_id", name=op.f("uq_registration_codes_issue_id_resident_id")
        ),
        sa.UniqueConstraint(
            "tenant_code", "digest", name=op.f("uq_registration_codes_tenant_code_digest")
        ),
    )
    with op.batch_alter_table("registration_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_codes_tenant_resident", ["tenant_code", "resident_id"], unique=False
        )

    op.create_table(
        "link_nonces",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("nonce_digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=33), nullable=False),
        sa.Column("code_id", _ID, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("used_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["code_id"],
            ["registration_codes.id"],
            name=op.f("fk_link_nonces_code_id_registration_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_link_nonces_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_nonces")),
        sa.UniqueConstraint(
            "tenant_code", "nonce_digest", name=op.f("uq_link_nonces_tenant_code_nonce_digest")
        ),
    )

    op.create_table(
        "link_attempts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("user_id", sa.String(length=33), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_link_attempts_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_attempts")),
    )
    with op.batch_alter_table("link_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_link_attempts_tenant_user_at", ["tenant_code", "user_id", "at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("link_attempts")
    op.drop_table("link_nonces")
    op.drop_table("registration_codes")
    op.drop_table("registration_code_issues")
    op.drop_table("friend_preferences")
    op.create_table(
        "line_webhook_events",
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("webhook_event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_code"],
            ["tenants.code"],
            name=op.f("fk_line_webhook_events_tenant_code_tenants"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_code", "webhook_event_id", name=op.f("pk_line_webhook_events")
        ),
    )
    op.execute(
        "INSERT INTO line_webhook_events (tenant_code, webhook_event_id, event_type, received_at) "
        "SELECT tenant_code, webhook_event_id, type, received_at FROM line_inbox"
    )
    op.drop_table("line_inbox")
