"""dispatch engine: send jobs (one per notice × phase), leased outbox batches

Existing outbox batches (one notice = one implicit send in 0001) each get a ``notice``-phase
job built from their stored notice: same targeted count and batch count, the text message the
0001 dispatcher sent, state ``sending`` while a batch is pending else ``done``. The batches
keep their retry keys.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import municipal_node.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = municipal_node.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "send_jobs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_code", sa.String(length=5), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=False),
        sa.Column("notice_id", sa.String(length=26), nullable=False),
        sa.Column("phase", sa.String(length=16), server_default="notice", nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("approval", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("aggregation_unit", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("targeted", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("plan_after", sa.String(length=33), nullable=True),
        sa.Column("send_until", _TIME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("planned_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_code"], ["tenants.code"], name=op.f("fk_send_jobs_tenant_code_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_jobs")),
        sa.UniqueConstraint(
            "tenant_code",
            "publisher",
            "notice_id",
            "phase",
            name=op.f("uq_send_jobs_tenant_code_publisher_notice_id_phase"),
        ),
    )
    with op.batch_alter_table("send_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_send_jobs_tenant_state", ["tenant_code", "state"], unique=False)

    with op.batch_alter_table("outbox_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", _TIME, nullable=True))
        batch_op.add_column(sa.Column("households_sealed", sa.LargeBinary(), nullable=True))

    _jobs_for_existing_batches()
    # what the sender's reachability query reads (dispatch.repository.unreachable)
    op.create_index(
        "ix_line_friends_not_friend",
        "line_friends",
        ["tenant_code", "user_id"],
        unique=False,
        postgresql_where=sa.text("NOT is_friend"),
        sqlite_where=sa.text("NOT is_friend"),
    )
    op.create_index(
        "ix_friend_preferences_stopped",
        "friend_preferences",
        ["tenant_code", "user_id"],
        unique=False,
        postgresql_where=sa.text("stopped"),
        sqlite_where=sa.text("stopped"),
    )

    with op.batch_alter_table("outbox_batches", schema=None) as batch_op:
        batch_op.alter_column("job_id", existing_type=_ID, nullable=False)
        batch_op.drop_constraint(
            "uq_outbox_batches_tenant_code_publisher_notice_id_batch_no", type_="unique"
        )
        batch_op.create_unique_constraint(
            op.f("uq_outbox_batches_job_id_batch_no"), ["job_id", "batch_no"]
        )
        batch_op.create_foreign_key(
            op.f("fk_outbox_batches_job_id_send_jobs"), "send_jobs", ["job_id"], ["id"]
        )
        batch_op.create_index("ix_outbox_batches_job_state", ["job_id", "state"], unique=False)


def _legacy_messages(tenant_name: str, envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """The one text message the 0001 dispatcher built at send time."""
    from contracts.notice import parse_notice
    from municipal_node.delivery.message import build_text

    payload = envelope["payload"]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    notice = parse_notice(raw)
    return [{"type": "text", "text": build_text(tenant_name=tenant_name, notice=notice)}]


def _jobs_for_existing_batches() -> None:
    bind = op.get_bind()
    batches = sa.table(
        "outbox_batches",
        sa.column("tenant_code", sa.String()),
        sa.column("publisher", sa.String()),
        sa.column("notice_id", sa.String()),
        sa.column("state", sa.String()),
        sa.column("recipient_count", sa.Integer()),
        sa.column("created_at", _TIME),
        sa.column("job_id", _ID),
    )
    notices = sa.table(
        "notices",
        sa.column("tenant_code", sa.String()),
        sa.column("publisher", sa.String()),
        sa.column("notice_id", sa.String()),
        sa.column("expires", _TIME),
        sa.column("envelope", sa.JSON()),
    )
    tenants = sa.table("tenants", sa.column("code", sa.String()), sa.column("name", sa.String()))
    jobs = sa.table(
        "send_jobs",
        sa.column("id", _ID),
        sa.column("tenant_code", sa.String()),
        sa.column("publisher", sa.String()),
        sa.column("notice_id", sa.String()),
        sa.column("phase", sa.String()),
        sa.column("rule_id", sa.Integer()),
        sa.column("approval", sa.String()),
        sa.column("spec", sa.JSON()),
        sa.column("messages", sa.JSON()),
        sa.column("aggregation_unit", sa.String()),
        sa.column("state", sa.String()),
        sa.column("targeted", sa.Integer()),
        sa.column("batches", sa.Integer()),
        sa.column("plan_after", sa.String()),
        sa.column("send_until", _TIME),
        sa.column("reason", sa.Text()),
        sa.column("created_at", _TIME),
        sa.column("updated_at", _TIME),
        sa.column("planned_at", _TIME),
        sa.column("finished_at", _TIME),
    )
    pending = sa.func.sum(sa.case((batches.c.state == "pending", 1), else_=0))
    groups = bind.execute(
        sa.select(
            batches.c.tenant_code,
            batches.c.publisher,
            batches.c.notice_id,
            sa.func.min(batches.c.created_at),
            sa.func.sum(batches.c.recipient_count),
            sa.func.count(),
            pending,
        ).group_by(batches.c.tenant_code, batches.c.publisher, batches.c.notice_id)
    ).all()
    now = datetime.now(UTC)
    for tenant_code, publisher, notice_id, created, targeted, count, pending_count in groups:
        notice = bind.execute(
            sa.select(notices.c.expires, notices.c.envelope).where(
                notices.c.tenant_code == tenant_code,
                notices.c.publisher == publisher,
                notices.c.notice_id == notice_id,
            )
        ).first()
        tenant_name = bind.execute(
            sa.select(tenants.c.name).where(tenants.c.code == tenant_code)
        ).scalar_one()
        messages: list[dict[str, Any]] = []
        reason = "0007 以前の送信 / sent before migration 0007"
        expires = now
        if notice is not None:
            expires = notice.expires
            try:
                messages = _legacy_messages(tenant_name, notice.envelope)
            except Exception as exc:  # a stored notice always parses; never stop the upgrade
                reason = f"メッセージを再構成できません / cannot rebuild the message: {exc}"
        unit = (
            "t"
            + hashlib.sha256(f"{tenant_code}/{publisher}/{notice_id}/notice".encode()).hexdigest()[
                :29
            ]
        )
        sending = bool(pending_count) and bool(messages)
        job_id = bind.execute(
            jobs.insert()
            .values(
                tenant_code=tenant_code,
                publisher=publisher,
                notice_id=notice_id,
                phase="notice",
                rule_id=None,
                approval="auto",
                spec={},
                messages=messages,
                aggregation_unit=unit,
                state="sending" if sending else "done",
                targeted=int(targeted or 0),
                batches=int(count),
                plan_after=None,
                send_until=expires,
                reason=reason,
                created_at=created or now,
                updated_at=now,
                planned_at=created or now,
                finished_at=None if sending else now,
            )
            .returning(jobs.c.id)
        ).scalar_one()
        bind.execute(
            batches.update()
            .where(
                batches.c.tenant_code == tenant_code,
                batches.c.publisher == publisher,
                batches.c.notice_id == notice_id,
            )
            .values(job_id=job_id)
        )


def downgrade() -> None:
    op.drop_index("ix_friend_preferences_stopped", table_name="friend_preferences")
    op.drop_index("ix_line_friends_not_friend", table_name="line_friends")
    with op.batch_alter_table("outbox_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_batches_job_state")
        batch_op.drop_constraint(op.f("fk_outbox_batches_job_id_send_jobs"), type_="foreignkey")
        batch_op.drop_constraint(op.f("uq_outbox_batches_job_id_batch_no"), type_="unique")
        batch_op.create_unique_constraint(
            "uq_outbox_batches_tenant_code_publisher_notice_id_batch_no",
            ["tenant_code", "publisher", "notice_id", "batch_no"],
        )
        batch_op.drop_column("households_sealed")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("job_id")
    with op.batch_alter_table("send_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_send_jobs_tenant_state")
    op.drop_table("send_jobs")
