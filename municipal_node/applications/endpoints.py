"""HTTP of applications.

Residents (no login of the site; the LIFF ID token is the credential):
- ``GET /liff/{code}/campaigns/{id}`` — the application page (``page.py``).
- ``POST /liff/{code}/campaigns/{id}/applications`` — JSON ``{"id_token", "answers"}``.
  CSRF-safe without cookies: only ``application/json`` (a cross-site HTML form cannot send it;
  form-encoded posts are refused with 415), the ID token in the body, and an ``Origin`` header,
  when present, must be the node's public origin (the tenant's ``public_base_url``, else the
  origin the request was made to). The token is verified with LINE Login (``aud`` = the
  tenant's LINE Login channel id) before anything is read or written: a forged or expired token
  is a 401 and records nothing. 201 ``{"receipt_no", "applied_at", "applied_at_jst",
  "created": true}`` for a new application; 200 with the first receipt (``created: false``)
  when the person had applied already; 409 outside the window; 422 bad answers.

Staff:
- ``POST /api/tenants/{code}/campaigns/{id}/applicants.csv`` (editor; body ``text/csv``;
  ``?skip_bad=true``, refused above ``TODOKE_NODE_IMPORT_MAX_BAD_SHARE`` bad lines) —
  counter/mail applicants (``csv_format.py``). 200 ``{rows, inserted, existing, skipped,
  issues}``; 422 ``CSV_INVALID`` / ``TOO_MANY_BAD_LINES`` with every issue when nothing was
  imported.
"""

from __future__ import annotations

import io
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import StateDep
from municipal_node.applications import page, repository, service
from municipal_node.applications.idtoken import IdTokenError, verify_id_token
from municipal_node.campaigns.models import CampaignState
from municipal_node.db.engine import unit_of_work
from municipal_node.segments.http_errors import describe
from municipal_node.tenants import repository as tenants

router = APIRouter()

Editor = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR))]
NO_STORE = {"Cache-Control": "no-store"}
MAX_BODY_BYTES = 64 * 1024
MAX_CSV_BYTES = 32 * 1024 * 1024


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_token: str = Field(min_length=1, max_length=4096)
    answers: dict[str, Any] = Field(default_factory=dict, max_length=100)


def _json_error(exc: service.ApplicationError | IdTokenError) -> JSONResponse:
    if isinstance(exc, IdTokenError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    else:
        body = exc.body()
    return JSONResponse(body, status_code=exc.status, headers=NO_STORE)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return _json_error(service.ApplicationError(status, code, message))


def _campaign_number(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _public_origin(public_base_url: str | None, request: Request) -> str:
    if public_base_url:
        parts = urlsplit(public_base_url)
        return f"{parts.scheme}://{parts.netloc}".lower()
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def _receipt_json(receipt: service.Receipt) -> dict[str, Any]:
    return {
        "receipt_no": receipt.receipt_no,
        "applied_at": receipt.applied_at.isoformat(),
        "applied_at_jst": service.jst_text(receipt.applied_at),
        "channel": receipt.channel,
        "created": receipt.created,
    }


@router.get("/liff/{code}/campaigns/{campaign_id}", response_class=HTMLResponse)
async def application_page(code: str, campaign_id: str, state: StateDep) -> HTMLResponse:
    """The LIFF application page of a campaign."""
    number = _campaign_number(campaign_id)
    async with state.sessions() as session:
        tenant = await tenants.get(session, code)
        campaign = (
            None
            if tenant is None or number is None
            else await repository.get_campaign(session, code, number)
        )
    if tenant is None or campaign is None:
        return page.message_page(
            "申請ページが見つかりません",
            "このページは見つかりませんでした。LINE のトーク画面のお知らせからもう一度開いてください。",
            status=404,
        )
    if campaign.state == CampaignState.CANCELLED:
        return page.message_page(
            campaign.title,
            "この申請の受付は中止されました。詳しくは市区町村の窓口にお問い合わせください。",
            status=410,
        )
    if not tenant.liff_id or not tenant.login_channel_id:
        return page.message_page(
            campaign.title,
            "オンライン申請の準備ができていません。窓口または郵送で申請してください。",
            status=503,
        )
    now = state.clock.now()
    if now >= campaign.closes_at:
        return page.message_page(
            campaign.title,
            f"受付は {service.jst_text(campaign.closes_at)} で終了しました。"
            "詳しくは市区町村の窓口にお問い合わせください。"
            "（申請済みの方の受付番号は、このページからは確認できません）",
            status=200,
        )
    if now < campaign.opens_at:
        return page.message_page(
            campaign.title,
            f"受付は {service.jst_text(campaign.opens_at)} からです。受付開始後にもう一度開いてください。",
            status=200,
        )
    return page.application_page(
        campaign,
        tenant_name=tenant.name,
        liff_id=tenant.liff_id,
        sdk_url=state.settings.liff_sdk_url,
        post_url=f"/liff/{code}/campaigns/{campaign.id}/applications",
    )


@router.post("/liff/{code}/campaigns/{campaign_id}/applications")
async def apply(code: str, campaign_id: str, request: Request, state: StateDep) -> Response:
    """Record the application of the LINE user whose LIFF ID token is in the body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return _error(
            415,
            "JSON_REQUIRED",
            "申請は JSON で送ってください（フォームの直接送信は受け付けません） / "
            "send the application as application/json",
        )
    number = _campaign_number(campaign_id)
    async with state.sessions() as session:
        tenant = await tenants.get(session, code)
        campaign = (
            None
            if tenant is None or number is None
            else await repository.get_campaign(session, code, number)
        )
    if tenant is None or campaign is None:
        return _json_error(service.unknown_campaign())
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() != _public_origin(tenant.public_base_url, request):
        return _error(
            403,
            "BAD_ORIGIN",
            "このページからは申請できません / the request does not come from the application page",
        )
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, "TOO_LARGE", "入力内容が大きすぎます / request body too large")
    try:
        body = ApplyIn.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        errors = describe(exc.errors(include_url=False, include_input=False))
        return _json_error(
            service.ApplicationError(
                422, "BAD_REQUEST", "送信内容が正しくありません / invalid request body", errors
            )
        )
    if not tenant.login_channel_id:
        return _error(
            503,
            "LIFF_NOT_CONFIGURED",
            "オンライン申請の準備ができていません / online applications are not configured",
        )
    try:
        verified = await verify_id_token(
            tenant.line_api_base_url,
            id_token=body.id_token,
            login_channel_id=tenant.login_channel_id,
            timeout=state.settings.liff_verify_timeout_seconds,
        )
    except IdTokenError as exc:
        return _json_error(exc)
    try:
        async with unit_of_work(state.sessions) as session:
            fresh = await repository.get_campaign(session, code, campaign.id)
            if fresh is None:
                raise service.unknown_campaign()
            receipt = await service.apply_online(
                session,
                sealer=state.sealer,
                campaign=fresh,
                user_id=verified.user_id,
                answers=body.answers,
                now=state.clock.now(),
            )
    except service.ApplicationError as exc:
        return _json_error(exc)
    return JSONResponse(
        {"campaign_id": campaign.id, **_receipt_json(receipt)},
        status_code=201 if receipt.created else 200,
        headers=NO_STORE,
    )


@router.post("/api/tenants/{code}/campaigns/{campaign_id}/applicants.csv")
async def import_applicants(
    access: Editor,
    campaign_id: str,
    request: Request,
    state: StateDep,
    skip_bad: Annotated[bool, Query(description="import the good lines, report the bad")] = False,
) -> Response:
    """Counter/mail applicants of a campaign from CSV (``resident_id,applied_at``)."""
    number = _campaign_number(campaign_id)
    if number is None:
        return _json_error(service.unknown_campaign())
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CSV_BYTES:
            return _error(413, "TOO_LARGE", "CSV が大きすぎます / CSV too large")
        chunks.append(chunk)
    try:
        async with unit_of_work(state.sessions) as session:
            summary = await service.import_applicants(
                session,
                tenant_code=access.tenant_code,
                campaign_id=number,
                stream=io.BytesIO(b"".join(chunks)),
                skip_bad=skip_bad,
                actor=access.actor,
                now=state.clock.now(),
                max_bad_share=state.settings.import_max_bad_share,
            )
    except service.ApplicationError as exc:
        return _json_error(exc)
    except service.ApplicantsRejectedError as exc:
        return JSONResponse(
            {
                "code": exc.code,
                "message": exc.message,
                "records": exc.records,
                "bad_lines": len({issue.line for issue in exc.issues}),
                "issues": service.issues_json(exc.issues),
            },
            status_code=422,
        )
    return JSONResponse(
        {
            "rows": summary.rows,
            "inserted": summary.inserted,
            "existing": summary.existing,
            "skipped": summary.skipped,
            "issues": service.issues_json(summary.issues),
        }
    )
