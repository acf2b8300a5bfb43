"""Rendering an issue's letters, once: the codes are decrypted for the page, then erased.

Short transactions only (a printer-side download may be slow; the webhook must keep
writing): claim the issue, read pages of sealed codes, then erase them and audit. If the
download breaks off, the claim is undone so staff can try again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.audit import repository as audit
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.linking import codes, letters, repository
from municipal_node.linking.models import RegistrationCodeIssue
from municipal_node.linking.service import LinkingError, code_aad

PAGE = 500


def _gone() -> LinkingError:
    return LinkingError(
        410,
        "LETTERS_ALREADY_RENDERED",
        "この発行分のお知らせ文書は作成済みです。コードは再表示できません。"
        "必要なら発行し直してください / the letters of this issue were already rendered; "
        "codes cannot be shown again — issue new ones",
    )


async def printable_issue(
    session: AsyncSession, *, tenant_code: str, issue_id: int
) -> RegistrationCodeIssue:
    """The issue if its letters can still be rendered; else a 404 / 410 ``LinkingError``."""
    issue = await repository.get_issue(session, tenant_code, issue_id)
    if issue is None:
        raise LinkingError(404, "UNKNOWN_ISSUE", "発行番号が見つかりません / unknown issue")
    if issue.letters_rendered_at is not None:
        raise _gone()
    return issue


async def stream_letters(
    sessions: async_sessionmaker[AsyncSession],
    *,
    sealer: Sealer,
    tenant_code: str,
    tenant_name: str,
    issue_id: int,
    actor: str,
    now: datetime,
) -> AsyncIterator[str]:
    """The HTML page in pieces. Raises ``LinkingError`` (410) before the first piece when
    another download claimed the letters first."""
    async with unit_of_work(sessions) as session:
        issue = await printable_issue(session, tenant_code=tenant_code, issue_id=issue_id)
        if not await repository.claim_letters(session, tenant_code, issue_id, now):
            raise _gone()
    completed = False
    try:
        yield letters.head(tenant_name=tenant_name, issue_id=issue_id)
        rendered = 0
        after: str | None = None
        while True:
            async with sessions() as session:
                page = await repository.sealed_page(
                    session, tenant_code, issue_id, after=after, limit=PAGE
                )
            if not page:
                break
            after = page[-1][0]
            for resident_id, sealed, _state in page:
                if sealed is None:  # revoked or used before printing: no letter
                    continue
                code = sealer.open_text(sealed, aad=code_aad(tenant_code, issue_id, resident_id))
                rendered += 1
                yield letters.letter(
                    tenant_name=tenant_name,
                    issue_id=issue_id,
                    resident_id=resident_id,
                    code=codes.formatted(code),
                    issued_at=issue.issued_at,
                    expires_at=issue.expires_at,
                )
        async with unit_of_work(sessions) as session:
            await repository.erase_sealed(session, tenant_code, issue_id)
            await audit.record(
                session,
                tenant_code=tenant_code,
                actor=actor,
                action="registration_codes.letters",
                at=now,
                count=rendered,
                detail={"issue_id": issue_id},
            )
        completed = True
        yield letters.tail()
    finally:
        if not completed:
            with anyio.CancelScope(shield=True):
                async with unit_of_work(sessions) as session:
                    await repository.unclaim_letters(session, tenant_code, issue_id)
