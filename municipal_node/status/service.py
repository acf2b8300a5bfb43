from __future__ import annotations

from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.dispatch.models import BatchState
from municipal_node.status import repository
from municipal_node.status.schemas import Counts, NoticeStatus, RejectionOut

REJECTED = "rejected"


async def notice_statuses(session: AsyncSession, *, tenant_code: str) -> list[NoticeStatus]:
    """One entry per stored notice, plus one per rejected feed item (state ``rejected``)."""
    totals: dict[tuple[str, str], Counts] = defaultdict(Counts)
    households: dict[tuple[str, str], dict[str, Counts]] = defaultdict(lambda: defaultdict(Counts))
    for (
        publisher,
        notice_id,
        state,
        recipients,
        sent,
        planned_hh,
        sent_hh,
    ) in await repository.batch_counts(session, tenant_code):
        key = (publisher, notice_id)
        by_type = households[key]
        totals[key].targeted += recipients
        for name, count in (planned_hh or {}).items():
            by_type[name].targeted += count
        if state == BatchState.SENT:
            totals[key].sent += sent or 0
            for name, count in (sent_hh or {}).items():
                by_type[name].sent += count
        elif state == BatchState.FAILED:
            totals[key].failed += recipients
            for name, count in (planned_hh or {}).items():
                by_type[name].failed += count
    entries: list[NoticeStatus] = []
    for notice in await repository.notices(session, tenant_code):
        key = (notice.publisher, notice.notice_id)
        total = totals.get(key, Counts())
        entries.append(
            NoticeStatus(
                seq=notice.seq,
                publisher=notice.publisher,
                notice_id=notice.notice_id,
                headline=notice.headline,
                status=notice.status,
                msg_type=notice.msg_type,
                state=notice.state,
                reason=notice.state_reason,
                targeted=notice.targeted,
                sent=total.sent,
                failed=total.failed,
                by_household=dict(sorted(households.get(key, {}).items())),
            )
        )
    for rejection in await repository.rejections(session, tenant_code):
        if rejection.publisher is None or rejection.notice_id is None:
            continue
        entries.append(
            NoticeStatus(
                seq=rejection.seq,
                publisher=rejection.publisher,
                notice_id=rejection.notice_id,
                headline=None,
                status=None,
                msg_type=None,
                state=REJECTED,
                reason=f"{rejection.code}: {rejection.message}",
                targeted=0,
                sent=0,
                failed=0,
                by_household={},
            )
        )
    entries.sort(key=lambda entry: entry.seq)
    return entries


async def rejection_list(session: AsyncSession, *, tenant_code: str) -> list[RejectionOut]:
    return [
        RejectionOut(
            seq=r.seq,
            publisher=r.publisher,
            notice_id=r.notice_id,
            code=r.code,
            message=r.message,
            rejected_at=r.rejected_at,
        )
        for r in await repository.rejections(session, tenant_code)
    ]
