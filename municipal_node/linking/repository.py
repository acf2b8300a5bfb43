"""Every query of ID連携: code issues, codes, nonces, attempts, resident links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.line.models import FriendPreference, LineFriend, LineInboxEvent
from municipal_node.linking.models import (
    CodeState,
    LinkAttempt,
    LinkNonce,
    RegistrationCode,
    RegistrationCodeIssue,
)
from municipal_node.residents.models import Resident


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# --- residents ----------------------------------------------------------------------------


async def existing_residents(
    session: AsyncSession, tenant_code: str, resident_ids: Sequence[str]
) -> set[str]:
    result = await session.scalars(
        select(Resident.resident_id).where(
            Resident.tenant_code == tenant_code, Resident.resident_id.in_(resident_ids)
        )
    )
    return set(result)


async def resident_exists(session: AsyncSession, tenant_code: str, resident_id: str) -> bool:
    return bool(await existing_residents(session, tenant_code, [resident_id]))


async def linked_resident(session: AsyncSession, tenant_code: str, user_id: str) -> str | None:
    return await session.scalar(
        select(Resident.resident_id).where(
            Resident.tenant_code == tenant_code, Resident.line_user_id == user_id
        )
    )


async def link_resident(
    session: AsyncSession, *, tenant_code: str, resident_id: str, user_id: str, now: datetime
) -> int:
    """Link ``user_id`` to the resident; any other record of the tenant linked to that LINE
    user is unlinked first (the unique key allows one). Returns how many were unlinked."""
    cleared = await session.execute(
        update(Resident)
        .where(
            Resident.tenant_code == tenant_code,
            Resident.line_user_id == user_id,
            Resident.resident_id != resident_id,
        )
        .values(line_user_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Resident)
        .where(Resident.tenant_code == tenant_code, Resident.resident_id == resident_id)
        .values(line_user_id=user_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(cleared)


async def unlink_user(session: AsyncSession, tenant_code: str, user_id: str, now: datetime) -> int:
    result = await session.execute(
        update(Resident)
        .where(Resident.tenant_code == tenant_code, Resident.line_user_id == user_id)
        .values(line_user_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def unlink_resident(
    session: AsyncSession, tenant_code: str, resident_id: str, now: datetime
) -> int:
    result = await session.execute(
        update(Resident)
        .where(
            Resident.tenant_code == tenant_code,
            Resident.resident_id == resident_id,
            Resident.line_user_id.is_not(None),
        )
        .values(line_user_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


# --- issues and codes ---------------------------------------------------------------------


async def add_issue(session: AsyncSession, issue: RegistrationCodeIssue) -> None:
    session.add(issue)
    await session.flush()


async def get_issue(
    session: AsyncSession, tenant_code: str, issue_id: int
) -> RegistrationCodeIssue | None:
    return await session.scalar(
        select(RegistrationCodeIssue).where(
            RegistrationCodeIssue.tenant_code == tenant_code,
            RegistrationCodeIssue.id == issue_id,
        )
    )


async def taken_digests(
    session: AsyncSession, tenant_code: str, digests: Sequence[bytes]
) -> set[bytes]:
    result = await session.scalars(
        select(RegistrationCode.digest).where(
            RegistrationCode.tenant_code == tenant_code, RegistrationCode.digest.in_(digests)
        )
    )
    return {bytes(d) for d in result}


async def add_codes(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(RegistrationCode), rows)


async def revoke_outstanding(
    session: AsyncSession,
    *,
    tenant_code: str,
    resident_ids: Sequence[str],
    now: datetime,
    issue_id: int | None = None,
) -> int:
    """Revoke unused codes of these residents (optionally only those of one issue)."""
    query = update(RegistrationCode).where(
        RegistrationCode.tenant_code == tenant_code,
        RegistrationCode.state == CodeState.ISSUED,
    )
    if resident_ids:
        query = query.where(RegistrationCode.resident_id.in_(resident_ids))
    if issue_id is not None:
        query = query.where(RegistrationCode.issue_id == issue_id)
    result = await session.execute(
        query.values(state=CodeState.REVOKED, revoked_at=now, sealed=None).execution_options(
            synchronize_session=False
        )
    )
    return _rowcount(result)


async def find_code(
    session: AsyncSession, tenant_code: str, digests: Sequence[bytes]
) -> RegistrationCode | None:
    return await session.scalar(
        select(RegistrationCode)
        .where(RegistrationCode.tenant_code == tenant_code, RegistrationCode.digest.in_(digests))
        .limit(1)
    )


async def get_code(
    session: AsyncSession, tenant_code: str, code_id: int
) -> RegistrationCode | None:
    return await session.scalar(
        select(RegistrationCode).where(
            RegistrationCode.tenant_code == tenant_code, RegistrationCode.id == code_id
        )
    )


async def use_code(session: AsyncSession, tenant_code: str, code_id: int, now: datetime) -> bool:
    """Mark an issued, unexpired code used (conditional: a code is used at most once)."""
    result = await session.execute(
        update(RegistrationCode)
        .where(
            RegistrationCode.tenant_code == tenant_code,
            RegistrationCode.id == code_id,
            RegistrationCode.state == CodeState.ISSUED,
            RegistrationCode.expires_at > now,
        )
        .values(state=CodeState.USED, used_at=now, sealed=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def claim_letters(
    session: AsyncSession, tenant_code: str, issue_id: int, now: datetime
) -> bool:
    """Mark the issue's letters rendered; False if they already were (they are rendered once)."""
    result = await session.execute(
        update(RegistrationCodeIssue)
        .where(
            RegistrationCodeIssue.tenant_code == tenant_code,
            RegistrationCodeIssue.id == issue_id,
            RegistrationCodeIssue.letters_rendered_at.is_(None),
        )
        .values(letters_rendered_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def sealed_page(
    session: AsyncSession, tenant_code: str, issue_id: int, *, after: str | None, limit: int
) -> list[tuple[str, bytes | None, str]]:
    """(resident_id, sealed code, state) of one issue, ordered by resident id (keyset)."""
    query = (
        select(RegistrationCode.resident_id, RegistrationCode.sealed, RegistrationCode.state)
        .where(RegistrationCode.tenant_code == tenant_code, RegistrationCode.issue_id == issue_id)
        .order_by(RegistrationCode.resident_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(RegistrationCode.resident_id > after)
    return [(rid, sealed, state) for rid, sealed, state in await session.execute(query)]


async def erase_sealed(session: AsyncSession, tenant_code: str, issue_id: int) -> None:
    await session.execute(
        update(RegistrationCode)
        .where(RegistrationCode.tenant_code == tenant_code, RegistrationCode.issue_id == issue_id)
        .values(sealed=None)
        .execution_options(synchronize_session=False)
    )


async def state_page(
    session: AsyncSession, tenant_code: str, issue_id: int, *, after: str | None, limit: int
) -> list[RegistrationCode]:
    query = (
        select(RegistrationCode)
        .where(RegistrationCode.tenant_code == tenant_code, RegistrationCode.issue_id == issue_id)
        .order_by(RegistrationCode.resident_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(RegistrationCode.resident_id > after)
    return list(await session.scalars(query))


# --- attempts and nonces ------------------------------------------------------------------


async def failed_attempts_since(
    session: AsyncSession, tenant_code: str, user_id: str, since: datetime
) -> int:
    value = await session.scalar(
        select(func.count())
        .select_from(LinkAttempt)
        .where(
            LinkAttempt.tenant_code == tenant_code,
            LinkAttempt.user_id == user_id,
            LinkAttempt.ok.is_(False),
            LinkAttempt.at >= since,
        )
    )
    return int(value or 0)


async def add_attempt(
    session: AsyncSession, *, tenant_code: str, user_id: str, at: datetime, ok: bool
) -> None:
    session.add(LinkAttempt(tenant_code=tenant_code, user_id=user_id, at=at, ok=ok))
    await session.flush()


async def add_nonce(session: AsyncSession, nonce: LinkNonce) -> None:
    session.add(nonce)
    await session.flush()


async def take_nonce(
    session: AsyncSession, *, tenant_code: str, nonce_digest: str, user_id: str, now: datetime
) -> int | None:
    """Use up a live nonce of this LINE user; its code id, or None (unknown, another user's,
    expired or already used)."""
    row = await session.scalar(
        select(LinkNonce).where(
            LinkNonce.tenant_code == tenant_code,
            LinkNonce.nonce_digest == nonce_digest,
            LinkNonce.user_id == user_id,
            LinkNonce.used_at.is_(None),
            LinkNonce.expires_at > now,
        )
    )
    if row is None:
        return None
    result = await session.execute(
        update(LinkNonce)
        .where(LinkNonce.id == row.id, LinkNonce.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return row.code_id if _rowcount(result) == 1 else None


async def known_user(session: AsyncSession, tenant_code: str, user_id: str) -> bool:
    """Whether the tenant holds anything about this LINE user (friendship, settings, a link,
    a stored event)."""
    for model, column in (
        (LineFriend, LineFriend.user_id),
        (FriendPreference, FriendPreference.user_id),
        (Resident, Resident.line_user_id),
        (LineInboxEvent, LineInboxEvent.user_id),
    ):
        found = await session.scalar(
            select(func.count())
            .select_from(model)
            .where(model.tenant_code == tenant_code, column == user_id)
        )
        if found:
            return True
    return False


async def purge_spent(session: AsyncSession, tenant_code: str, now: datetime) -> None:
    """Drop attempts older than the throttle window and nonces expired a day ago."""
    await session.execute(
        delete(LinkAttempt)
        .where(LinkAttempt.tenant_code == tenant_code, LinkAttempt.at < now - timedelta(hours=1))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(LinkNonce)
        .where(
            LinkNonce.tenant_code == tenant_code,
            LinkNonce.expires_at < now - timedelta(days=1),
        )
        .execution_options(synchronize_session=False)
    )


async def forget_user(session: AsyncSession, tenant_code: str, user_id: str) -> None:
    """Erase on request: the user's nonces and attempts."""
    for model in (LinkNonce, LinkAttempt):
        await session.execute(
            delete(model)
            .where(model.tenant_code == tenant_code, model.user_id == user_id)
            .execution_options(synchronize_session=False)
        )


async def unclaim_letters(session: AsyncSession, tenant_code: str, issue_id: int) -> None:
    """Undo ``claim_letters`` after a download that broke off (the codes are still sealed)."""
    await session.execute(
        update(RegistrationCodeIssue)
        .where(
            RegistrationCodeIssue.tenant_code == tenant_code,
            RegistrationCodeIssue.id == issue_id,
        )
        .values(letters_rendered_at=None)
        .execution_options(synchronize_session=False)
    )
