from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from municipal_node.dispatch.models import SendJob
from municipal_node.dispatch.repository import BatchCounts


class DispatchError(Exception):
    """An expected refusal; ``code`` is machine-readable, the message bilingual."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SendCounts(BaseModel):
    """Batches by state, and recipients by outcome (aggregates only)."""

    batches: int
    pending: int
    sent: int
    failed: int
    cancelled: int
    recipients_sent: int
    recipients_failed: int
    recipients_cancelled: int
    #: planned recipients left out at send time (unfollowed or "stop all" since planning)
    dropped_at_send: int


class SendJobOut(BaseModel):
    id: int
    publisher: str
    notice_id: str
    phase: str
    rule_id: int | None
    approval: str
    state: str
    reason: str | None
    targeted: int
    aggregation_unit: str
    send_until: datetime
    created_at: datetime
    updated_at: datetime
    planned_at: datetime | None
    finished_at: datetime | None
    counts: SendCounts

    @classmethod
    def of(cls, job: SendJob, counts: BatchCounts | None) -> SendJobOut:
        return cls(**_fields(job), counts=_counts(counts or BatchCounts()))


class SendJobDetail(SendJobOut):
    spec: dict[str, Any]
    messages: list[dict[str, Any]]

    @classmethod
    def of(cls, job: SendJob, counts: BatchCounts | None) -> SendJobDetail:
        return cls(
            **_fields(job),
            counts=_counts(counts or BatchCounts()),
            spec=job.spec,
            messages=job.messages,
        )


def _fields(job: SendJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "publisher": job.publisher,
        "notice_id": job.notice_id,
        "phase": job.phase,
        "rule_id": job.rule_id,
        "approval": job.approval,
        "state": job.state,
        "reason": job.reason,
        "targeted": job.targeted,
        "aggregation_unit": job.aggregation_unit,
        "send_until": job.send_until,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "planned_at": job.planned_at,
        "finished_at": job.finished_at,
    }


def _counts(counts: BatchCounts) -> SendCounts:
    return SendCounts(
        batches=counts.batches,
        pending=counts.pending,
        sent=counts.sent,
        failed=counts.failed,
        cancelled=counts.cancelled,
        recipients_sent=counts.recipients_sent,
        recipients_failed=counts.recipients_failed,
        recipients_cancelled=counts.recipients_cancelled,
        dropped_at_send=counts.dropped,
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""


class CancelOut(BaseModel):
    publisher: str
    notice_id: str
    cancelled_batches: int
    notice_state: str | None
