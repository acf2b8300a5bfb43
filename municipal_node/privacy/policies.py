"""Built-in retention policies (settings and defaults in ``NodeSettings``, README "Retention").

=========================  =================================  ===========================================
policy                     setting (default days)             what
=========================  =================================  ===========================================
``line_inbox_payloads``    retention_line_payload_days (30)   blank the event payload and stored reply of
                                                              webhook events acted on (done / failed)
``registration_codes``     retention_registration_code_days   delete codes used, revoked or expired that
                           (90)                               long ago (and their account-link nonces)
``outbox_user_ids``        retention_outbox_user_ids_days     empty the LINE user id list (and sealed
                           (30)                               household list) of finished batches of
                                                              finished send jobs; counts stay
``audit_log``              retention_audit_days (1827 ≈ 5 y)  delete audit records
=========================  =================================  ===========================================
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Text, and_, delete, exists, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit.models import AuditEntry
from municipal_node.dispatch.models import BatchState, JobState, OutboxBatch, SendJob
from municipal_node.line.models import InboxState, LineInboxEvent
from municipal_node.linking.models import CodeState, LinkNonce, RegistrationCode
from municipal_node.privacy.retention import register_retention_policy


async def _apply(
    session: AsyncSession, model: Any, condition: Any, statement: Any, dry_run: bool
) -> int:
    """Count the rows of ``model`` that ``condition`` selects (dry run), or run ``statement``
    on them."""
    if dry_run:
        query = select(func.count()).select_from(model).where(condition)
        return int(await session.scalar(query) or 0)
    result = await session.execute(statement.where(condition))
    return int(cast(CursorResult[Any], result).rowcount)


async def blank_inbox_payloads(session: AsyncSession, cutoff: datetime, dry_run: bool) -> int:
    condition = and_(
        LineInboxEvent.received_at < cutoff,
        LineInboxEvent.state.in_((InboxState.DONE, InboxState.FAILED)),
        or_(sql_cast(LineInboxEvent.payload, Text) != "{}", LineInboxEvent.reply.is_not(None)),
    )
    statement = update(LineInboxEvent).values(payload={}, reply=None)
    return await _apply(session, LineInboxEvent, condition, statement, dry_run)


def _code_expired(cutoff: datetime) -> Any:
    return or_(
        and_(RegistrationCode.state == CodeState.USED, RegistrationCode.used_at < cutoff),
        and_(RegistrationCode.state == CodeState.REVOKED, RegistrationCode.revoked_at < cutoff),
        and_(RegistrationCode.state == CodeState.ISSUED, RegistrationCode.expires_at < cutoff),
    )


async def delete_old_registration_codes(
    session: AsyncSession, cutoff: datetime, dry_run: bool
) -> int:
    if not dry_run:
        await session.execute(
            delete(LinkNonce).where(
                LinkNonce.code_id.in_(select(RegistrationCode.id).where(_code_expired(cutoff)))
            )
        )
    return await _apply(
        session, RegistrationCode, _code_expired(cutoff), delete(RegistrationCode), dry_run
    )


async def blank_outbox_user_ids(session: AsyncSession, cutoff: datetime, dry_run: bool) -> int:
    condition = and_(
        OutboxBatch.updated_at < cutoff,
        OutboxBatch.state.in_((BatchState.SENT, BatchState.FAILED, BatchState.CANCELLED)),
        exists().where(SendJob.id == OutboxBatch.job_id, SendJob.state.not_in(JobState.ACTIVE)),
        or_(
            sql_cast(OutboxBatch.user_ids, Text) != "[]", OutboxBatch.households_sealed.is_not(None)
        ),
    )
    statement = update(OutboxBatch).values(user_ids=[], households_sealed=None)
    return await _apply(session, OutboxBatch, condition, statement, dry_run)


async def delete_old_audit_records(session: AsyncSession, cutoff: datetime, dry_run: bool) -> int:
    return await _apply(session, AuditEntry, AuditEntry.at < cutoff, delete(AuditEntry), dry_run)


register_retention_policy(
    "line_inbox_payloads",
    "retention_line_payload_days",
    blank_inbox_payloads,
    description="LINE webhook events acted on: payload and reply blanked",
)
register_retention_policy(
    "registration_codes",
    "retention_registration_code_days",
    delete_old_registration_codes,
    description="registration codes used, revoked or expired: deleted",
)
register_retention_policy(
    "outbox_user_ids",
    "retention_outbox_user_ids_days",
    blank_outbox_user_ids,
    description="finished send batches: LINE user ids emptied, counts kept",
)
register_retention_policy(
    "audit_log", "retention_audit_days", delete_old_audit_records, description="audit records"
)
