"""Applications to campaigns: online (the LIFF form), counter/mail (CSV), tenant LIFF settings.

Services flush; the caller's unit of work commits. A resident counts as applied when an
``applications`` row of the campaign carries their LINE user id or the id of the resident record
linked to them (``repository.applied_user_ids``); each person has at most one row per campaign
(a second online application returns the first receipt; an imported line for someone who
already applied is left as it is).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.applications import repository
from municipal_node.applications.csv_format import FATAL_CODES, JST, read_rows
from municipal_node.applications.models import Application, ApplicationChannel
from municipal_node.audit import repository as audit
from municipal_node.campaigns.models import Campaign, CampaignState
from municipal_node.crypto import Sealer
from municipal_node.residents.csv_format import CsvIssue
from municipal_node.tenants import repository as tenants
from municipal_node.tenants.schemas import TenantError

#: audit actor of what a resident does on the LIFF form
LIFF_ACTOR = "liff-resident"
RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
LIFF_ID_RE = re.compile(r"[0-9]{10}-[A-Za-z0-9]{8}")
LOGIN_CHANNEL_RE = re.compile(r"[0-9]{10}")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
FIELD_TYPES = frozenset({"text", "textarea", "select", "checkbox", "date", "tel", "number"})
MAX_TEXT = {"text": 200, "textarea": 2000, "tel": 20}
TEL_RE = re.compile(r"[0-9０-９+\-－() ]{1,20}")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ApplicationError(Exception):
    """Expected failure: ``code`` machine-readable, ``message`` Japanese / English."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


def unknown_campaign() -> ApplicationError:
    return ApplicationError(404, "UNKNOWN_CAMPAIGN", "この申請は見つかりません / unknown campaign")


def jst_text(moment: datetime) -> str:
    local = moment.astimezone(JST)
    weekday = "月火水木金土日"[local.weekday()]
    return f"{local.year}年{local.month}月{local.day}日({weekday}) {local:%H:%M}"


def receipt_aad(tenant_code: str, campaign_id: int, receipt_no: str) -> str:
    return f"application:{tenant_code}:{campaign_id}:{receipt_no}"


def new_receipt_no() -> str:
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


# --- tenant LIFF settings -------------------------------------------------------------------


def check_public_url(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise TenantError(
            "BAD_URL", "公開URLは https の URL が必要です / public URL must be an https URL"
        )
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise TenantError(
            "BAD_URL",
            "公開URLは https が必要です（http は localhost のみ） / public URL must be https "
            "(http only for localhost)",
        )
    if parts.query or parts.fragment:
        raise TenantError(
            "BAD_URL", "公開URLに ? や # は使えません / public URL takes no query or fragment"
        )
    return url.strip().rstrip("/")


async def set_liff(
    session: AsyncSession,
    *,
    code: str,
    liff_id: str | None,
    login_channel_id: str | None,
    public_url: str | None,
    now: datetime,
) -> dict[str, str | None]:
    """Set any of the tenant's LIFF ID, LINE Login channel id and public URL; the new values."""
    tenant = await tenants.get(session, code)
    if tenant is None:
        raise TenantError("UNKNOWN_TENANT", f"{code} は未登録です / no tenant {code}")
    if login_channel_id is not None:
        login_channel_id = login_channel_id.strip()
        if not LOGIN_CHANNEL_RE.fullmatch(login_channel_id):
            raise TenantError(
                "BAD_LOGIN_CHANNEL",
                "LINEログインのチャネルIDは10桁の数字です / LINE Login channel id is 10 digits",
            )
        tenant.login_channel_id = login_channel_id
    if liff_id is not None:
        liff_id = liff_id.strip()
        if not LIFF_ID_RE.fullmatch(liff_id):
            raise TenantError(
                "BAD_LIFF_ID",
                "LIFF ID は「10桁の数字-英数字8文字」です（例 1234567890-AbCdEfGh） / LIFF ID "
                "must look like 1234567890-AbCdEfGh",
            )
        tenant.liff_id = liff_id
    if public_url is not None:
        tenant.public_base_url = check_public_url(public_url)
    if tenant.liff_id and tenant.login_channel_id:
        if not tenant.liff_id.startswith(f"{tenant.login_channel_id}-"):
            raise TenantError(
                "LIFF_CHANNEL_MISMATCH",
                f"LIFF ID {tenant.liff_id} はLINEログインチャネル {tenant.login_channel_id} の"
                "ものではありません（LIFF ID の先頭はチャネルIDです） / the LIFF ID does not "
                "belong to that LINE Login channel (it starts with the channel id)",
            )
    tenant.updated_at = now
    await session.flush()
    return {
        "liff_id": tenant.liff_id,
        "login_channel_id": tenant.login_channel_id,
        "public_base_url": tenant.public_base_url,
    }


# --- the application form ------------------------------------------------------------------


def form_fields(campaign: Campaign) -> list[dict[str, Any]]:
    """The campaign's questions that this page can show (unknown types are left out)."""
    fields: list[dict[str, Any]] = []
    for item in campaign.form or []:
        if (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and item.get("type", "text") in FIELD_TYPES
        ):
            fields.append(item)
    return fields


def _field_error(name: str, ja: str, en: str) -> dict[str, str]:
    return {"field": f"answers.{name}", "message": f"{ja} / {en}"}


def check_answers(campaign: Campaign, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers, cleaned; ``ApplicationError`` (422) naming every bad field."""
    fields = {item["name"]: item for item in form_fields(campaign)}
    errors: list[dict[str, str]] = []
    clean: dict[str, Any] = {}
    for name in answers:
        if name not in fields:
            errors.append(_field_error(name, "この項目はありません", "no such question"))
    for name, item in fields.items():
        kind = item.get("type", "text")
        required = bool(item.get("required", False))
        value = answers.get(name)
        if value is None or value == "" or (kind == "checkbox" and value is False):
            if required:
                errors.append(_field_error(name, "入力してください", "required"))
            elif kind == "checkbox":
                clean[name] = False
            continue
        if kind == "checkbox":
            if not isinstance(value, bool):
                errors.append(_field_error(name, "チェックの値が正しくありません", "not a boolean"))
            else:
                clean[name] = value
            continue
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
                errors.append(_field_error(name, "0以上の整数で入力してください", "not a number"))
            else:
                clean[name] = value
            continue
        if not isinstance(value, str):
            errors.append(_field_error(name, "文字で入力してください", "not a string"))
            continue
        text = value.strip()
        if kind == "select":
            options = [str(option) for option in item.get("options") or []]
            if text not in options:
                errors.append(
                    _field_error(name, "選択肢から選んでください", "not one of the options")
                )
                continue
        elif kind == "date":
            if not DATE_RE.fullmatch(text):
                errors.append(_field_error(name, "日付を選んでください", "not a YYYY-MM-DD date"))
                continue
        elif kind == "tel":
            if not TEL_RE.fullmatch(text):
                errors.append(
                    _field_error(name, "電話番号の形式ではありません", "not a phone number")
                )
                continue
        limit = MAX_TEXT.get(kind, 200)
        if len(text) > limit:
            errors.append(
                _field_error(name, f"{limit}文字以内で入力してください", f"at most {limit} chars")
            )
            continue
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
            errors.append(_field_error(name, "使えない文字が含まれています", "control characters"))
            continue
        clean[name] = text
    if errors:
        more = f"（ほか{len(errors) - 1}件）" if len(errors) > 1 else ""
        raise ApplicationError(
            422,
            "INVALID_ANSWERS",
            f"入力内容を確認してください: {errors[0]['message']}{more} / check the answers",
            errors,
        )
    return clean


def check_window(campaign: Campaign, now: datetime) -> None:
    """Refuse outside the campaign's application window (clear Japanese message)."""
    if campaign.state == CampaignState.CANCELLED:
        raise ApplicationError(
            410,
            "CAMPAIGN_CANCELLED",
            "この申請の受付は中止されました / this campaign was cancelled",
        )
    if now < campaign.opens_at:
        raise ApplicationError(
            409,
            "NOT_OPEN_YET",
            f"受付は {jst_text(campaign.opens_at)} からです。受付開始後にもう一度お開きください / "
            "applications are not open yet",
        )
    if now >= campaign.closes_at:
        raise ApplicationError(
            409,
            "CLOSED",
            f"受付は {jst_text(campaign.closes_at)} で終了しました。窓口にご相談ください / "
            "applications are closed",
        )


@dataclass(frozen=True)
class Receipt:
    receipt_no: str
    applied_at: datetime
    channel: str
    created: bool  # False: the person had applied already (the first receipt)


async def apply_online(
    session: AsyncSession,
    *,
    sealer: Sealer,
    campaign: Campaign,
    user_id: str,
    answers: Mapping[str, Any],
    now: datetime,
) -> Receipt:
    """Record a verified LINE user's application (idempotent per person)."""
    tenant_code = campaign.tenant_code
    resident_id = await repository.linked_resident_id(session, tenant_code, user_id)
    existing = await repository.application_of(
        session, tenant_code, campaign.id, user_id=user_id, resident_id=resident_id
    )
    if existing is not None:
        return Receipt(existing.receipt_no, existing.applied_at, existing.channel, False)
    check_window(campaign, now)
    clean = check_answers(campaign, answers)
    receipt_no = new_receipt_no()
    row = Application(
        tenant_code=tenant_code,
        campaign_id=campaign.id,
        line_user_id=user_id,
        resident_id=resident_id,
        channel=ApplicationChannel.ONLINE,
        applied_at=now,
        receipt_no=receipt_no,
        answers_sealed=sealer.seal_text(
            json.dumps(clean, ensure_ascii=False, sort_keys=True),
            aad=receipt_aad(tenant_code, campaign.id, receipt_no),
        ),
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # the same person's other request won the race: answer with its receipt
        existing = await repository.application_of(
            session, tenant_code, campaign.id, user_id=user_id, resident_id=resident_id
        )
        if existing is None:
            raise
        return Receipt(existing.receipt_no, existing.applied_at, existing.channel, False)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=LIFF_ACTOR,
        action="applications.apply",
        at=now,
        count=1,
        detail={"campaign_id": campaign.id, "channel": ApplicationChannel.ONLINE},
    )
    return Receipt(receipt_no, now, ApplicationChannel.ONLINE, True)


# --- counter / mail applicants -------------------------------------------------------------


class ApplicantsRejectedError(Exception):
    """Nothing was imported; ``issues`` says why, line by line."""

    code = "CSV_INVALID"

    def __init__(
        self, issues: list[CsvIssue], records: int, *, max_bad_share: float | None = None
    ) -> None:
        bad = len({issue.line for issue in issues})
        fatal = any(issue.code in FATAL_CODES for issue in issues)
        if max_bad_share is not None and not fatal:
            self.code = "TOO_MANY_BAD_LINES"
            share = bad / records if records else 1.0
            message = (
                f"誤りのある行が {bad}/{records} 行（{share:.1%}）で、上限 {max_bad_share:.1%} を"
                f"超えるため何も取り込んでいません / {bad} of {records} lines are bad "
                f"({share:.1%}), more than the allowed {max_bad_share:.1%}; nothing imported"
            )
        elif fatal:
            message = (
                "CSV ファイル全体に誤りがあるため取り込みませんでした / the file as a whole is "
                "not a valid applicants CSV; nothing imported"
            )
        else:
            message = (
                f"CSV の {bad} 行に誤りがあるため何も取り込んでいません（--skip-bad で誤りのある"
                f"行を除いて取り込めます） / {bad} bad line(s); nothing imported (--skip-bad "
                "imports the good lines)"
            )
        super().__init__(message)
        self.message = message
        self.issues = issues
        self.records = records
        self.fatal = fatal


@dataclass(frozen=True)
class ApplicantsSummary:
    #: good lines in the file
    rows: int
    #: new applications recorded
    inserted: int
    #: lines whose resident (or the LINE account linked to them) had applied already
    existing: int
    #: bad lines left out (``skip_bad``)
    skipped: int
    issues: tuple[CsvIssue, ...] = ()


def _unknown_resident(line: int) -> CsvIssue:
    return CsvIssue(
        line,
        "resident_id",
        "UNKNOWN_RESIDENT",
        "この住民IDは住民データにありません（住民データの取り込みを先に行ってください）",
        "no resident with this resident_id (import the residents first)",
    )


async def import_applicants(
    session: AsyncSession,
    *,
    tenant_code: str,
    campaign_id: int,
    stream: BinaryIO,
    skip_bad: bool,
    actor: str,
    now: datetime,
    max_bad_share: float = 0.10,
) -> ApplicantsSummary:
    """Validate the whole file, then record the applicants not yet recorded (idempotent).

    Like the resident import: any bad line refuses the file, unless ``skip_bad``; then a file
    with more than ``max_bad_share`` bad lines is still refused (a broken export)."""
    campaign = await repository.get_campaign(session, tenant_code, campaign_id)
    if campaign is None:
        raise unknown_campaign()
    rows, issues = read_rows(stream, now=now)
    links = await repository.residents_links(session, tenant_code, [r.resident_id for r in rows])
    known = []
    for row in rows:
        if row.resident_id in links:
            known.append(row)
        else:
            issues.append(_unknown_resident(row.line))
    issues.sort(key=lambda issue: issue.line)
    bad_lines = {issue.line for issue in issues}
    records = len(rows) + len(bad_lines - {row.line for row in rows})
    fatal = any(issue.code in FATAL_CODES for issue in issues)
    if fatal or (issues and not skip_bad):
        raise ApplicantsRejectedError(issues, records)
    if records and len(bad_lines) / records > max_bad_share:
        raise ApplicantsRejectedError(issues, records, max_bad_share=max_bad_share)
    user_ids = [user for row in known if (user := links[row.resident_id]) is not None]
    taken_residents, taken_users = await repository.taken(
        session,
        tenant_code,
        campaign_id,
        resident_ids=[row.resident_id for row in known],
        user_ids=user_ids,
    )
    inserted = 0
    existing = 0
    for row in known:
        user_id = links[row.resident_id]
        if row.resident_id in taken_residents or (user_id is not None and user_id in taken_users):
            existing += 1
            continue
        receipt_no = new_receipt_no()
        session.add(
            Application(
                tenant_code=tenant_code,
                campaign_id=campaign_id,
                line_user_id=user_id,
                resident_id=row.resident_id,
                channel=ApplicationChannel.COUNTER,
                applied_at=row.applied_at,
                receipt_no=receipt_no,
                answers_sealed=None,
                created_at=now,
            )
        )
        if user_id is not None:
            taken_users.add(user_id)
        inserted += 1
    await session.flush()
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="applications.import",
        at=now,
        count=inserted,
        detail={
            "campaign_id": campaign_id,
            "rows": len(known),
            "existing": existing,
            "skipped": len(bad_lines),
        },
    )
    return ApplicantsSummary(
        rows=len(known),
        inserted=inserted,
        existing=existing,
        skipped=len(bad_lines),
        issues=tuple(issues),
    )


def issues_json(issues: Sequence[CsvIssue]) -> list[dict[str, Any]]:
    return [
        {
            "line": issue.line,
            "column": issue.column,
            "code": issue.code,
            "message_ja": issue.message_ja,
            "message_en": issue.message_en,
        }
        for issue in issues
    ]
