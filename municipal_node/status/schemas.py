from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Counts(BaseModel):
    targeted: int = 0
    sent: int = 0
    failed: int = 0


class NoticeStatus(BaseModel):
    seq: int
    publisher: str
    notice_id: str
    headline: str | None
    status: str | None
    msg_type: str | None
    state: str
    reason: str | None
    targeted: int
    sent: int
    failed: int
    by_household: dict[str, Counts]


class RejectionOut(BaseModel):
    seq: int
    publisher: str | None
    notice_id: str | None
    code: str
    message: str
    rejected_at: datetime
