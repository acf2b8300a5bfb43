"""The notice's own state follows its ``notice``-phase job (what ``/notices`` and
``todoke node status`` show); other phases (issue #5) leave it alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.dispatch import repository
from municipal_node.dispatch.models import JobState, Phase
from municipal_node.relay.models import NoticeState

NOTICE_STATE_OF_JOB = {
    JobState.PLANNING: NoticeState.PLANNED,
    JobState.HELD: NoticeState.HELD,
    JobState.SENDING: NoticeState.SENDING,
    JobState.DONE: NoticeState.DONE,
    JobState.CANCELLED: NoticeState.CANCELLED,
    JobState.FAILED: NoticeState.FAILED,
    JobState.SKIPPED: NoticeState.SKIPPED,
}
#: notice states a job may still move (a cancelled or finished notice stays as it is)
_MOVABLE = (NoticeState.STORED, NoticeState.PLANNED, NoticeState.HELD, NoticeState.SENDING)


async def mirror(
    session: AsyncSession,
    *,
    tenant_code: str,
    publisher: str,
    notice_id: str,
    phase: str,
    job_state: str,
    now: datetime,
    reason: str | None = None,
    targeted: int | None = None,
) -> None:
    if phase != Phase.NOTICE:
        return
    await repository.move_notice(
        session,
        tenant_code,
        publisher,
        notice_id,
        from_states=_MOVABLE,
        to_state=NOTICE_STATE_OF_JOB[job_state],
        now=now,
        reason=reason,
        targeted=targeted,
    )
