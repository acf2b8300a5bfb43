from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, IdType, UTCDateTime
from municipal_node.line.models import FriendPreference, LineFriend


class JobState:
    """Life of a send job (one notice × phase)."""

    PLANNING = "planning"  # recipients being streamed into outbox batches (auto: already sending)
    HELD = "held"  # planned and counted, waiting for approval (``control.release``)
    SENDING = "sending"  # planned; batches going out
    DONE = "done"  # no batch pending any more (some may have failed: see the batch counts)
    CANCELLED = "cancelled"  # stopped by staff or by a hub Cancel/Update; ``reason`` says why
    FAILED = "failed"  # could not be planned or sent at all; ``reason`` says why
    SKIPPED = "skipped"  # nothing to send (no rule matched, …); ``reason`` says why

    ACTIVE = (PLANNING, HELD, SENDING)
    ALL = (PLANNING, HELD, SENDING, DONE, CANCELLED, FAILED, SKIPPED)


class BatchState:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Phase:
    NOTICE = "notice"  # the notice itself, sent once (CONTRACT §6 ``single``)
    PREVIEW = "preview"  # campaign: 予告
    OPEN = "open"  # campaign: 受付開始
    REMINDER = "reminder"  # campaign: 締切前リマインド, to those who have not applied


class Approval:
    AUTO = "auto"
    APPROVAL = "approval"


class SendJob(Base):
    """One send of one notice phase to one segment: the plan, its progress and its outcome.

    The unique key makes a second job for the same (notice, phase) impossible. ``plan_after``
    is the planning cursor (the last LINE user id written into a committed batch), so planning
    that crashed resumes where it stopped, without skipping or repeating anyone.
    """

    __tablename__ = "send_jobs"
    __table_args__ = (
        UniqueConstraint("tenant_code", "publisher", "notice_id", "phase"),
        Index("ix_send_jobs_tenant_state", "tenant_code", "state"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    publisher: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(26))
    phase: Mapped[str] = mapped_column(
        String(16), default=Phase.NOTICE, server_default=Phase.NOTICE
    )
    #: the relay rule that produced the plan (None: the default plan of a tenant without rules)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    approval: Mapped[str] = mapped_column(String(16))
    #: the segment (``SegmentSpec`` JSON) and the LINE message objects (no personal data)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: ``customAggregationUnits`` value of every request of this job (LINE insight)
    aggregation_unit: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(16))
    targeted: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    plan_after: Mapped[str | None] = mapped_column(String(33))
    #: a campaign reminder: nobody who applied to this campaign (``applications``) is planned
    #: or, when they applied after planning, sent to
    exclude_campaign_id: Mapped[int | None] = mapped_column(IdType)
    #: nothing is sent at or after this moment (the notice's ``expires``)
    send_until: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxBatch(Base):
    """≤ 500 LINE user ids to receive one job's messages, sent as one multicast.

    The unique key (job, batch_no) makes a second copy impossible, and ``retry_key`` (uuid5 of
    tenant/publisher/notice/phase/batch) makes a re-send after a crash a 409 at LINE, not a
    duplicate. A sender claims a batch by setting ``claimed_by``/``lease_until``; a lease that
    runs out (crashed sender) makes the batch claimable again. After a retryable failure
    ``lease_until`` is the earliest time of the next attempt.
    """

    __tablename__ = "outbox_batches"
    __table_args__ = (
        UniqueConstraint("job_id", "batch_no"),
        Index("ix_outbox_batches_tenant_state", "tenant_code", "state"),
        Index("ix_outbox_batches_job_state", "job_id", "state"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(IdType, ForeignKey("send_jobs.id"))
    tenant_code: Mapped[str] = mapped_column(String(5), ForeignKey("tenants.code"))
    publisher: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(26))
    batch_no: Mapped[int] = mapped_column(Integer)
    user_ids: Mapped[list[str]] = mapped_column(JSON)
    recipient_count: Mapped[int] = mapped_column(Integer)
    retry_key: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: {household type or "none": residents} at planning time (aggregates only)
    household_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    #: AES-GCM of the JSON list of each recipient's household types, parallel to ``user_ids``
    #: (None when nobody's is known): lets the sender subtract exactly the users it drops
    households_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: recipients actually sent to after the send-time friendship re-check
    sent_count: Mapped[int | None] = mapped_column(Integer)
    sent_household_counts: Mapped[dict[str, int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The sender's reachability query (``repository.unreachable``) reads only these: friends who
# unfollowed and friends who chose "stop all" — few rows, however many friends there are.
Index(
    "ix_line_friends_not_friend",
    LineFriend.tenant_code,
    LineFriend.user_id,
    postgresql_where=~LineFriend.is_friend,
    sqlite_where=~LineFriend.is_friend,
)
Index(
    "ix_friend_preferences_stopped",
    FriendPreference.tenant_code,
    FriendPreference.user_id,
    postgresql_where=FriendPreference.stopped,
    sqlite_where=FriendPreference.stopped,
)
