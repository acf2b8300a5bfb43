"""ID連携 rules: issue codes, redeem a code sent in the chat, complete LINE's account link,
unlink, erase. Services flush; the caller's unit of work commits."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit import repository as audit
from municipal_node.crypto import Sealer
from municipal_node.line import messages
from municipal_node.linking import codes, repository
from municipal_node.linking.digest import CodeLookup, nonce_digest
from municipal_node.linking.models import CodeState, LinkNonce, RegistrationCodeIssue
from municipal_node.tenants.schemas import TenantConfig

DEFAULT_VALID_DAYS = 90
MAX_VALID_DAYS = 365
MAX_PER_ISSUE = 10_000
BATCH = 1000
NONCE_TTL = timedelta(minutes=10)
THROTTLE_WINDOW = timedelta(hours=1)
THROTTLE_LIMIT = 5
#: audit actor for what a resident does from the chat
LINE_ACTOR = "line-resident"
LIVE_LINE_API = "https://api.line.me"
LIVE_ACCESS = "https://access.line.me"


class LinkingError(Exception):
    """Expected failure: ``code`` machine-readable, ``message`` Japanese / English."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class IssuedCode:
    resident_id: str
    code: str  # XXXX-XXXX-XXXX


@dataclass(frozen=True)
class IssueResult:
    issue_id: int
    issued_at: datetime
    expires_at: datetime
    codes: list[IssuedCode]
    revoked: int


JST = timezone(timedelta(hours=9), "JST")


def end_of_jst_day(moment: datetime) -> datetime:
    """The first instant after the JST calendar day of ``moment`` (a letter says "until the
    30th", so the code works all that day)."""
    day = moment.astimezone(JST).date()
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=JST).astimezone(UTC)


def code_aad(tenant_code: str, issue_id: int, resident_id: str) -> str:
    return f"{tenant_code}:regcode:{issue_id}:{resident_id}"


def _batches(items: Sequence[str], size: int = BATCH) -> list[list[str]]:
    iterator = iter(items)
    out: list[list[str]] = []
    while batch := list(islice(iterator, size)):
        out.append(batch)
    return out


def clean_resident_ids(values: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not ids:
        raise LinkingError(
            422, "NO_RESIDENTS", "住民IDを1件以上指定してください / give at least one resident id"
        )
    if len(ids) > MAX_PER_ISSUE:
        raise LinkingError(
            422,
            "TOO_MANY",
            f"一度に発行できるのは {MAX_PER_ISSUE} 件までです / at most {MAX_PER_ISSUE} per issue",
        )
    too_long = [v for v in ids if len(v) > 64]
    if too_long:
        raise LinkingError(
            422, "BAD_RESIDENT_ID", "住民IDは64文字までです / resident ids are at most 64 chars"
        )
    return ids


async def issue_codes(
    session: AsyncSession,
    *,
    sealer: Sealer,
    lookup: CodeLookup,
    tenant_code: str,
    resident_ids: Sequence[str],
    valid_days: int | None,
    actor: str,
    now: datetime,
) -> IssueResult:
    """Issue one code per resident (their unused older codes are revoked). Unknown ids: the
    whole request is refused and nothing is issued."""
    days = DEFAULT_VALID_DAYS if valid_days is None else valid_days
    if not 1 <= days <= MAX_VALID_DAYS:
        raise LinkingError(
            422,
            "BAD_VALID_DAYS",
            f"有効日数は1〜{MAX_VALID_DAYS}日です / valid_days must be 1–{MAX_VALID_DAYS}",
        )
    ids = clean_resident_ids(resident_ids)
    unknown: list[str] = []
    for batch in _batches(ids):
        found = await repository.existing_residents(session, tenant_code, batch)
        unknown.extend(rid for rid in batch if rid not in found)
    if unknown:
        raise LinkingError(
            404,
            "UNKNOWN_RESIDENTS",
            f"登録されていない住民IDがあります（{len(unknown)}件）。何も発行していません / "
            f"{len(unknown)} unknown resident id(s); nothing issued",
            unknown=unknown[:50],
        )
    expires_at = end_of_jst_day(now + timedelta(days=days))
    revoked = 0
    for batch in _batches(ids):
        revoked += await repository.revoke_outstanding(
            session, tenant_code=tenant_code, resident_ids=batch, now=now
        )
    issue = RegistrationCodeIssue(
        tenant_code=tenant_code,
        issued_by=actor[:64],
        issued_at=now,
        expires_at=expires_at,
        count=len(ids),
    )
    await repository.add_issue(session, issue)
    issued: list[IssuedCode] = []
    for batch in _batches(ids):
        rows = await _new_code_rows(
            session,
            sealer=sealer,
            lookup=lookup,
            tenant_code=tenant_code,
            issue_id=issue.id,
            resident_ids=batch,
            expires_at=expires_at,
        )
        await repository.add_codes(session, [row for row, _ in rows])
        issued.extend(IssuedCode(row["resident_id"], codes.formatted(code)) for row, code in rows)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="registration_codes.issue",
        at=now,
        count=len(ids),
        detail={"issue_id": issue.id, "revoked": revoked, "valid_days": days},
    )
    return IssueResult(issue.id, now, expires_at, issued, revoked)


async def _new_code_rows(
    session: AsyncSession,
    *,
    sealer: Sealer,
    lookup: CodeLookup,
    tenant_code: str,
    issue_id: int,
    resident_ids: list[str],
    expires_at: datetime,
) -> list[tuple[dict[str, Any], str]]:
    """Fresh codes for a batch; a code whose digest exists already is drawn again."""
    chosen: dict[str, str] = {}
    used: set[bytes] = set()
    pending = list(resident_ids)
    while pending:
        drawn = {rid: codes.new_code() for rid in pending}
        digests = {rid: lookup.digest(tenant_code, code) for rid, code in drawn.items()}
        taken = await repository.taken_digests(session, tenant_code, list(digests.values()))
        again: list[str] = []
        for rid in pending:
            if digests[rid] in taken or digests[rid] in used:
                again.append(rid)
            else:
                used.add(digests[rid])
                chosen[rid] = drawn[rid]
        pending = again
    return [
        (
            {
                "tenant_code": tenant_code,
                "issue_id": issue_id,
                "resident_id": rid,
                "digest": lookup.digest(tenant_code, chosen[rid]),
                "sealed": sealer.seal_text(chosen[rid], aad=code_aad(tenant_code, issue_id, rid)),
                "state": CodeState.ISSUED,
                "expires_at": expires_at,
            },
            chosen[rid],
        )
        for rid in resident_ids
    ]


def shown_state(state: str, expires_at: datetime, now: datetime) -> str:
    if state == CodeState.ISSUED and expires_at <= now:
        return CodeState.EXPIRED
    return state


# --- in the chat --------------------------------------------------------------------------


class CodeCheck(enum.Enum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    NOT_USABLE = "not_usable"
    THROTTLED = "throttled"


async def check_code(
    session: AsyncSession,
    *,
    lookup: CodeLookup,
    tenant_code: str,
    user_id: str,
    code: str,
    now: datetime,
) -> tuple[CodeCheck, int | None]:
    """What a code the user sent amounts to (read only), with the code's row id when found."""
    failed = await repository.failed_attempts_since(
        session, tenant_code, user_id, now - THROTTLE_WINDOW
    )
    if failed >= THROTTLE_LIMIT:
        return CodeCheck.THROTTLED, None
    if not codes.is_well_formed(code):
        return CodeCheck.UNKNOWN, None
    row = await repository.find_code(session, tenant_code, lookup.candidates(tenant_code, code))
    if row is None:
        return CodeCheck.UNKNOWN, None
    if row.state != CodeState.ISSUED:
        return CodeCheck.NOT_USABLE, row.id
    if row.expires_at <= now:
        return CodeCheck.EXPIRED, row.id
    return CodeCheck.OK, row.id


def access_base(line_api_base_url: str) -> str:
    """LINE's account-link dialog host: access.line.me for the real API, else (the sandbox)
    the API base itself."""
    base = line_api_base_url.rstrip("/")
    return LIVE_ACCESS if base == LIVE_LINE_API else base


def account_link_url(line_api_base_url: str, link_token: str, nonce: str) -> str:
    query = urlencode({"linkToken": link_token, "nonce": nonce})
    return f"{access_base(line_api_base_url)}/dialog/bot/accountLink?{query}"


async def redeem_code(
    session: AsyncSession,
    *,
    lookup: CodeLookup,
    tenant: TenantConfig,
    user_id: str,
    code: str,
    link_token: str | None,
    now: datetime,
) -> list[messages.Message]:
    """A code sent in the chat → the reply: the account-link button, or why not."""
    result, code_id = await check_code(
        session, lookup=lookup, tenant_code=tenant.code, user_id=user_id, code=code, now=now
    )
    if result is CodeCheck.THROTTLED:
        return messages.code_throttled()
    if result is CodeCheck.OK and code_id is not None:
        if link_token is None:
            return messages.temporarily_unavailable()
        await repository.add_attempt(
            session, tenant_code=tenant.code, user_id=user_id, at=now, ok=True
        )
        nonce = secrets.token_urlsafe(32)
        await repository.add_nonce(
            session,
            LinkNonce(
                tenant_code=tenant.code,
                nonce_digest=nonce_digest(nonce),
                user_id=user_id,
                code_id=code_id,
                created_at=now,
                expires_at=now + NONCE_TTL,
            ),
        )
        return messages.link_button(account_link_url(tenant.line_api_base_url, link_token, nonce))
    await repository.add_attempt(
        session, tenant_code=tenant.code, user_id=user_id, at=now, ok=False
    )
    if result is CodeCheck.EXPIRED:
        return messages.code_expired(tenant.name)
    if result is CodeCheck.NOT_USABLE:
        return messages.code_not_usable(tenant.name)
    return messages.code_unknown()


async def complete_link(
    session: AsyncSession,
    *,
    tenant: TenantConfig,
    user_id: str,
    result: str | None,
    nonce: str | None,
    now: datetime,
) -> list[messages.Message]:
    """An ``accountLink`` event: link the resident when the nonce is this user's, live and
    unused, and its code still usable; otherwise change nothing."""
    if result != "ok" or not nonce or len(nonce) > 255:
        return messages.link_failed()
    code_id = await repository.take_nonce(
        session,
        tenant_code=tenant.code,
        nonce_digest=nonce_digest(nonce),
        user_id=user_id,
        now=now,
    )
    if code_id is None:
        return messages.link_failed()
    code = await repository.get_code(session, tenant.code, code_id)
    if code is None or not await repository.resident_exists(session, tenant.code, code.resident_id):
        return messages.code_not_usable(tenant.name)
    if not await repository.use_code(session, tenant.code, code_id, now):
        return messages.code_not_usable(tenant.name)
    await repository.link_resident(
        session, tenant_code=tenant.code, resident_id=code.resident_id, user_id=user_id, now=now
    )
    await audit.record(
        session,
        tenant_code=tenant.code,
        actor=LINE_ACTOR,
        action="resident.link",
        at=now,
        count=1,
        detail={"issue_id": code.issue_id},
    )
    return messages.link_done(tenant.name)
