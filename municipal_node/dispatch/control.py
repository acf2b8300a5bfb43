"""What staff, approvals and the hub do to sends: release, cancel, look.

- ``release``: a ``held`` job (planned, counted, nothing sent) starts sending. H5's approval
  API calls it once the approvals are complete.
- ``cancel_notice``: every active job of the notice → ``cancelled`` and every pending batch →
  ``cancelled``, at once; a sender withdraws the ones it claimed but has not sent, and a
  request already on its way when the cancel came is recorded as ``sent`` if LINE accepted it
  (a delivery is never hidden). A notice not planned yet is cancelled before it gets a job.
- ``apply_hub_supersession`` (relay follower, in the transaction that stores the notice):
  a hub ``Cancel`` cancels the referenced notices; an ``Update`` cancels the pending rest of
  the earlier revisions and is then planned as its own job (``notice`` phase) like an Alert —
  residents who already got the earlier revision get the update too, the others only the
  update. Both also cover earlier revisions of the same document the references do not list.
- ``sweep``: expired jobs stop; pending leftovers of stopped jobs are cancelled; drained jobs
  finish (a safety net: senders finish jobs themselves).

Every function filters by tenant: another tenant's job id is "not found".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notice import MsgType, Notice
from municipal_node.audit import repository as audit
from municipal_node.dispatch import progress, repository
from municipal_node.dispatch.models import JobState
from municipal_node.dispatch.schemas import DispatchError, SendJobDetail, SendJobOut
from municipal_node.relay.models import NoticeState

MAX_REASON = 500
EXPIRED_REASON = "有効期限を過ぎたため残りを送信しません / expired; the rest is not sent"

NOT_FOUND = "SEND_NOT_FOUND"
NOTICE_NOT_FOUND = "NOTICE_NOT_FOUND"
NOT_HELD = "NOT_HELD"
NOTHING_TO_CANCEL = "NOTHING_TO_CANCEL"
REASON_REQUIRED = "REASON_REQUIRED"


def _not_found(job_id: int) -> DispatchError:
    return DispatchError(NOT_FOUND, f"送信 {job_id} が見つかりません / send {job_id} not found")


async def release(
    session: AsyncSession, *, tenant_code: str, job_id: int, actor: str, now: datetime
) -> None:
    """``held`` → ``sending``; ``DispatchError`` when unknown or not held."""
    job = await repository.get_job(session, tenant_code, job_id)
    if job is None:
        raise _not_found(job_id)
    if not await repository.move_job(
        session, tenant_code, job_id, from_states=(JobState.HELD,), to_state=JobState.SENDING,
        now=now,
    ):  # fmt: skip
        raise DispatchError(
            NOT_HELD,
            f"この送信は承認待ちではありません（状態: {job.state}） / this send is not waiting "
            f"for approval (state: {job.state})",
        )
    await progress.mirror(
        session, tenant_code=tenant_code, publisher=job.publisher, notice_id=job.notice_id,
        phase=job.phase, job_state=JobState.SENDING, now=now,
    )  # fmt: skip
    await audit.record(
        session, tenant_code=tenant_code, actor=actor, action="send.release", at=now,
        count=job.targeted,
        detail={"job_id": job_id, "publisher": job.publisher, "notice_id": job.notice_id,
                "phase": job.phase},
    )  # fmt: skip


async def _cancel(
    session: AsyncSession,
    *,
    tenant_code: str,
    publisher: str,
    notice_id: str,
    actor: str,
    now: datetime,
    reason: str,
    update: Notice | None = None,
) -> tuple[bool, int]:
    """(anything was cancelled, batches cancelled). The notice's campaign, if any, stops too:
    its phases not yet sent never will be — unless ``update`` (the ``Update`` superseding the
    notice) has an open application window: then the campaign continues on it
    (``campaigns.succession``)."""
    active = [
        job
        for job in await repository.jobs_of_notice(session, tenant_code, publisher, notice_id)
        if job.state in JobState.ACTIVE
    ]
    for job in active:
        await repository.move_job(
            session, tenant_code, job.id, from_states=JobState.ACTIVE,
            to_state=JobState.CANCELLED, now=now, reason=reason,
        )  # fmt: skip
    cancelled = await repository.cancel_pending(
        session, tenant_code, [job.id for job in active], now=now
    )
    notice_moved = await repository.move_notice(
        session, tenant_code, publisher, notice_id,
        from_states=(NoticeState.STORED, NoticeState.PLANNED, NoticeState.HELD,
                     NoticeState.SENDING),
        to_state=NoticeState.CANCELLED, now=now, reason=reason,
    )  # fmt: skip
    # imported here: campaigns pull in the LINE SDK, which the feed follower and CLI commands
    # that import this module never need otherwise (~0.8 s of start-up per process)
    from municipal_node.campaigns.service import cancel_for_notice  # noqa: PLC0415
    from municipal_node.campaigns.succession import continue_for_update  # noqa: PLC0415

    continued = None
    if update is not None:
        continued = await continue_for_update(
            session, tenant_code=tenant_code, publisher=publisher,
            superseded_notice_id=notice_id, update=update, now=now,
        )  # fmt: skip
    campaign_stopped = continued is None and await cancel_for_notice(
        session, tenant_code=tenant_code, publisher=publisher, notice_id=notice_id, now=now,
        reason=reason, actor=actor,
    )  # fmt: skip
    if not active and not notice_moved and not campaign_stopped and continued is None:
        return False, 0
    await audit.record(
        session, tenant_code=tenant_code, actor=actor, action="send.cancel", at=now,
        count=cancelled,
        detail={"publisher": publisher, "notice_id": notice_id,
                "jobs": [job.id for job in active], "reason": reason},
    )  # fmt: skip
    return True, cancelled


async def cancel_notice(
    session: AsyncSession,
    *,
    tenant_code: str,
    publisher: str,
    notice_id: str,
    actor: str,
    now: datetime,
    reason: str,
) -> int:
    """Stop every pending send of the notice; the number of batches cancelled.

    ``DispatchError`` (nothing changed) when the reason is missing, the notice is unknown, or
    nothing is left to cancel."""
    reason = reason.strip()
    if not reason:
        raise DispatchError(
            REASON_REQUIRED, "取消の理由を入力してください / a reason for the cancel is required"
        )
    if len(reason) > MAX_REASON:
        raise DispatchError(
            REASON_REQUIRED,
            f"理由は{MAX_REASON}文字以内です / the reason is at most {MAX_REASON} characters",
        )
    notice = await repository.find_notice(session, tenant_code, publisher, notice_id)
    jobs = await repository.jobs_of_notice(session, tenant_code, publisher, notice_id)
    if notice is None and not jobs:
        raise DispatchError(
            NOTICE_NOT_FOUND,
            f"通知 {publisher}/{notice_id} が見つかりません / notice {publisher}/{notice_id} "
            "not found",
        )
    changed, count = await _cancel(
        session, tenant_code=tenant_code, publisher=publisher, notice_id=notice_id,
        actor=actor, now=now, reason=reason,
    )  # fmt: skip
    if not changed:
        state = notice.state if notice is not None else jobs[-1].state
        raise DispatchError(
            NOTHING_TO_CANCEL,
            f"取り消せる送信はありません（状態: {state}） / nothing left to cancel (state: {state})",
        )
    return count


async def apply_hub_supersession(
    session: AsyncSession, *, tenant_code: str, notice: Notice, now: datetime
) -> int:
    """A stored ``Actual`` ``Cancel``/``Update`` stops what it supersedes; batches cancelled."""
    if notice.msg_type is MsgType.ALERT:
        return 0
    targets = {(ref.publisher, ref.notice_id) for ref in notice.references}
    for notice_id, _ in await repository.notices_of_document(
        session, tenant_code, notice.publisher, notice.document_id, notice.revision
    ):
        targets.add((notice.publisher, notice_id))
    if notice.msg_type is MsgType.CANCEL:
        reason = (
            f"発信者が取り消しました: {notice.cancel_reason} / cancelled by the publisher "
            f"(Cancel {notice.notice_id}, revision {notice.revision})"
        )
    else:
        reason = (
            f"改訂版（第{notice.revision}版 {notice.notice_id}）に置き換えられました / superseded "
            f"by revision {notice.revision} ({notice.notice_id})"
        )
    total = 0
    for publisher, notice_id in sorted(targets):
        if (publisher, notice_id) == (notice.publisher, notice.notice_id):
            continue
        _, count = await _cancel(
            session, tenant_code=tenant_code, publisher=publisher, notice_id=notice_id,
            actor="hub", now=now, reason=reason[:MAX_REASON],
            update=notice if notice.msg_type is MsgType.UPDATE else None,
        )  # fmt: skip
        total += count
    return total


async def sweep(session: AsyncSession, *, tenant_code: str, now: datetime) -> None:
    for job_id in await repository.expired_job_ids(session, tenant_code, now):
        job = await repository.get_job(session, tenant_code, job_id)
        if job is None:
            continue
        await _cancel(
            session, tenant_code=tenant_code, publisher=job.publisher, notice_id=job.notice_id,
            actor="dispatcher", now=now, reason=EXPIRED_REASON,
        )  # fmt: skip
    stale = await repository.job_ids_with_stale_pending(
        session, tenant_code, (JobState.CANCELLED, JobState.FAILED, JobState.SKIPPED)
    )
    await repository.cancel_pending(session, tenant_code, stale, now=now)
    for job_id in await repository.sending_job_ids(session, tenant_code):
        state = await repository.finish_if_drained(session, tenant_code, job_id, now=now)
        if state is not None:
            job = await repository.get_job(session, tenant_code, job_id)
            if job is not None:
                await progress.mirror(
                    session, tenant_code=tenant_code, publisher=job.publisher,
                    notice_id=job.notice_id, phase=job.phase, job_state=state, now=now,
                )  # fmt: skip


async def get_job(session: AsyncSession, *, tenant_code: str, job_id: int) -> SendJobDetail:
    job = await repository.get_job(session, tenant_code, job_id)
    if job is None:
        raise _not_found(job_id)
    counts = await repository.batch_counts(session, tenant_code, [job_id])
    return SendJobDetail.of(job, counts.get(job_id))


async def list_jobs(
    session: AsyncSession,
    *,
    tenant_code: str,
    state: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[SendJobOut]:
    """Newest first; ``before_id`` pages on."""
    if state is not None and state not in JobState.ALL:
        raise DispatchError(
            "BAD_STATE",
            f"状態 {state!r} はありません（{', '.join(JobState.ALL)}） / unknown state",
        )
    jobs = await repository.list_jobs(
        session, tenant_code, state=state, before_id=before_id, limit=max(1, min(limit, 500))
    )
    counts = await repository.batch_counts(session, tenant_code, [job.id for job in jobs])
    return [SendJobOut.of(job, counts.get(job.id)) for job in jobs]


async def notice_state(
    session: AsyncSession, *, tenant_code: str, publisher: str, notice_id: str
) -> str | None:
    notice = await repository.find_notice(session, tenant_code, publisher, notice_id)
    return None if notice is None else notice.state
