"""Approving held sends (承認): a send planned under an ``approval`` rule waits in state
``held`` (counted, nothing sent) until enough different approvers approve it.

One approval is needed; two different approvers when the job's targeted count is above the
rule's ``two_person_threshold``. The same approver approving twice counts once (a database
key, not an ``if``). When the last needed approval arrives, ``dispatch.control.release``
starts the send in the same transaction. A job whose rule has since been deleted needs two.

Two approvers approving at the same moment must not each see only their own approval (the
job would stay held with both recorded): on PostgreSQL the approvals of one job are
serialised with a transaction-scoped advisory lock; SQLite serialises writers by itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit import repository as audit
from municipal_node.dispatch import control
from municipal_node.dispatch.schemas import DispatchError, SendJobDetail
from municipal_node.relay_rules import repository
from municipal_node.relay_rules.schemas import ApprovalOut
from municipal_node.segments.http_errors import ApiError

HELD = "held"
#: first key of the advisory locks taken here ("approvals"); the second is the job id
_LOCK_CLASS = 0x5A5
_INT4 = 2**31


async def _lock_job(session: AsyncSession, job_id: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS, job_id % _INT4)))


async def _job(session: AsyncSession, tenant_code: str, job_id: int) -> SendJobDetail:
    try:
        return await control.get_job(session, tenant_code=tenant_code, job_id=job_id)
    except DispatchError as exc:
        raise ApiError(exc.code, exc.message, 404) from exc


async def required_approvals(
    session: AsyncSession, *, tenant_code: str, rule_id: int | None, targeted: int
) -> int:
    if rule_id is None:
        return 1
    rule = await repository.get_rule(session, tenant_code, rule_id)
    if rule is None:
        return 2
    threshold = rule.two_person_threshold
    return 2 if threshold is not None and targeted > threshold else 1


async def status(session: AsyncSession, *, tenant_code: str, job_id: int) -> ApprovalOut:
    job = await _job(session, tenant_code, job_id)
    approvers = await repository.approvers_of(session, tenant_code, job_id)
    required = await required_approvals(
        session, tenant_code=tenant_code, rule_id=job.rule_id, targeted=job.targeted
    )
    return ApprovalOut(
        job_id=job.id,
        state=job.state,
        targeted=job.targeted,
        approvals=len(approvers),
        required=required,
        approvers=approvers,
        released=job.state != HELD and len(approvers) >= required,
    )


async def approve(
    session: AsyncSession, *, tenant_code: str, job_id: int, actor: str, now: datetime
) -> ApprovalOut:
    await _lock_job(session, job_id)
    job = await _job(session, tenant_code, job_id)
    if job.state != HELD:
        raise ApiError(
            "NOT_HELD",
            f"送信 {job_id} は承認待ちではありません（状態: {job.state}） / send {job_id} "
            f"is not waiting for approval (state: {job.state})",
            409,
        )
    added = await repository.add_approval(
        session, tenant_code=tenant_code, job_id=job_id, approver=actor, at=now
    )
    approvers = await repository.approvers_of(session, tenant_code, job_id)
    required = await required_approvals(
        session, tenant_code=tenant_code, rule_id=job.rule_id, targeted=job.targeted
    )
    released = len(approvers) >= required
    if released:
        try:
            await control.release(
                session, tenant_code=tenant_code, job_id=job_id, actor=actor, now=now
            )
        except DispatchError as exc:
            raise ApiError(exc.code, exc.message, 409) from exc
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="send.approve",
        at=now,
        count=job.targeted,
        detail={
            "job_id": job_id,
            "publisher": job.publisher,
            "notice_id": job.notice_id,
            "phase": job.phase,
            "approvals": len(approvers),
            "required": required,
            "repeated": not added,
            "released": released,
        },
    )
    after = await _job(session, tenant_code, job_id)
    return ApprovalOut(
        job_id=job_id,
        state=after.state,
        targeted=job.targeted,
        approvals=len(approvers),
        required=required,
        approvers=approvers,
        released=released,
    )
