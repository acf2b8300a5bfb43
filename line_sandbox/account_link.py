"""LINE's account link (ID連携), as the bot and the resident's LINE app see it.

- ``POST /v2/bot/user/{userId}/linkToken`` (bearer auth, through the common pipeline) → 200
  ``{"linkToken"}``: 10 minutes, single use, bound to the user. A malformed user id is a 400,
  a user who is not a friend of the channel a 404 (LINE's ``Not found``).
- ``GET /dialog/bot/accountLink?linkToken=…&nonce=…`` — the page the resident's LINE app opens
  (on LINE: ``https://access.line.me/dialog/bot/accountLink``). For a live token it is used up
  and a signed ``accountLink`` webhook ``{"link": {"result": "ok", "nonce"}}`` goes to the bot
  for the token's user; an expired or used token sends ``"result": "failed"``. An unknown token
  or a nonce outside 10–255 characters shows an error page and sends nothing.
- ``POST /sandbox/channels/{name}/account-link`` ``{"user_id", "url"}``: a simulated resident
  opens such a URL in their LINE app. When the token belongs to another user the dialog
  refuses (403 page, no webhook): LINE only links the account the token was issued for.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from line_sandbox.admin import webhook_summary
from line_sandbox.channels import AdminError, get_channel, resolve_users, send_user_event
from line_sandbox.errors import NOT_FOUND, LineApiError
from line_sandbox.pipeline import CallContext, Handler, Outcome, run_call
from line_sandbox.store import Channel, SandboxState

LINK_TOKEN_TTL_SECONDS = 600
KEEP_SPENT_SECONDS = 3600  # used/expired tokens are remembered this long (to answer "failed")
USER_ID_RE = re.compile(r"U[0-9a-f]{32}")
DIALOG_PATH = "/dialog/bot/accountLink"
NONCE_MIN, NONCE_MAX = 10, 255


@dataclass
class LinkToken:
    channel: str
    user_index: int
    expires_at: float  # monotonic seconds
    used: bool = False


@dataclass
class AccountLinkStore:
    """Issued link tokens of every channel (lives on ``app.state.account_links``)."""

    tokens: dict[str, LinkToken] = field(default_factory=dict)

    def issue(self, channel: str, user_index: int, now: float) -> str:
        self._purge(now)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = LinkToken(channel, user_index, now + LINK_TOKEN_TTL_SECONDS)
        return token

    def _purge(self, now: float) -> None:
        for token in [t for t, v in self.tokens.items() if v.expires_at + KEEP_SPENT_SECONDS < now]:
            del self.tokens[token]


def _store(request: Request) -> AccountLinkStore:
    store: AccountLinkStore = request.app.state.account_links
    return store


def _issue_handler(store: AccountLinkStore) -> Handler:
    def issue(ctx: CallContext) -> Outcome:
        user_id = ctx.path_params.get("user_id", "")
        if not USER_ID_RE.fullmatch(user_id):
            raise LineApiError(400, "The value for the 'userId' parameter is invalid")
        index = ctx.channel.index_of.get(user_id)
        if index is None or not ctx.channel.is_friend(index):
            raise LineApiError(404, NOT_FOUND)
        token = store.issue(ctx.channel.name, index, ctx.state.clock.monotonic())
        return Outcome(200, {"linkToken": token})

    return issue


@dataclass
class DialogResult:
    status: int
    title: str
    text: str
    result: str | None = None  # the accountLink result sent, if one was
    webhook: dict[str, Any] | None = None


async def open_dialog(
    state: SandboxState,
    store: AccountLinkStore,
    *,
    link_token: str | None,
    nonce: str | None,
    opener: tuple[Channel, int] | None,
) -> DialogResult:
    """What the dialog does for ``link_token`` + ``nonce``; ``opener`` = (channel, resident
    index) of the LINE app that opened it (None: the token's own user)."""
    entry = store.tokens.get(link_token or "")
    if entry is None:
        return DialogResult(400, "リンクが無効です", "この連携リンクは無効です。")
    if not nonce or not NONCE_MIN <= len(nonce) <= NONCE_MAX:
        return DialogResult(400, "リンクが無効です", "連携リンクの形式が正しくありません。")
    channel = state.channels.get(entry.channel)
    if channel is None:
        return DialogResult(400, "リンクが無効です", "この連携リンクは無効です。")
    if opener is not None and (opener[0] is not channel or opener[1] != entry.user_index):
        return DialogResult(
            403,
            "連携できません",
            "この連携リンクは、別のLINEアカウントのために発行されたものです。",
        )
    if not channel.is_friend(entry.user_index):
        return DialogResult(403, "連携できません", "公式アカウントを友だち追加してください。")
    now = state.clock.monotonic()
    spent = entry.used or entry.expires_at <= now
    entry.used = True
    result = "failed" if spent else "ok"
    batches = await send_user_event(
        state,
        channel,
        entry.user_index,
        "accountLink",
        {"link": {"result": result, "nonce": nonce}},
    )
    webhook = webhook_summary(1, batches)
    if spent:
        return DialogResult(
            400,
            "連携できませんでした",
            "この連携リンクは有効期限が切れているか、すでに使われています。"
            "トーク画面からもう一度お試しください。",
            result,
            webhook,
        )
    return DialogResult(
        200,
        "連携を受け付けました",
        "LINEアカウントの連携を受け付けました。トーク画面に戻ってください。",
        result,
        webhook,
    )


def _page(result: DialogResult) -> HTMLResponse:
    body = (
        '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(result.title)} — LINE（サンドボックス）</title></head>"
        '<body style="font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em">'
        f"<h1>{escape(result.title)}</h1><p>{escape(result.text)}</p>"
        '<p style="color:#666;font-size:small">LINE sandbox: account link dialog</p>'
        "</body></html>"
    )
    return HTMLResponse(body, status_code=result.status)


class OpenLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str
    url: str = Field(min_length=1, max_length=2000)


def _query_value(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values and len(values) == 1 else None


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v2/bot/user/{user_id}/linkToken", include_in_schema=False)
    async def issue_link_token(request: Request) -> Response:
        return await run_call(
            request, "link_token", _issue_handler(_store(request)), has_body=False
        )

    @router.get(DIALOG_PATH, include_in_schema=False)
    async def dialog(request: Request) -> HTMLResponse:
        query = parse_qs(request.url.query, keep_blank_values=True)
        result = await open_dialog(
            request.app.state.sandbox,
            _store(request),
            link_token=_query_value(query, "linkToken"),
            nonce=_query_value(query, "nonce"),
            opener=None,
        )
        return _page(result)

    @router.post("/sandbox/channels/{name}/account-link")
    async def open_link(name: str, body: OpenLinkIn, request: Request) -> dict[str, Any]:
        state: SandboxState = request.app.state.sandbox
        channel = get_channel(state, name)
        index = resolve_users(channel, [body.user_id], everyone=False)[0]
        parts = urlsplit(body.url)
        if parts.path != DIALOG_PATH:
            raise AdminError(
                400,
                "not_account_link_url",
                f"アカウント連携のURLではありません / not an account-link URL ({DIALOG_PATH})",
            )
        query = parse_qs(parts.query, keep_blank_values=True)
        result = await open_dialog(
            state,
            _store(request),
            link_token=_query_value(query, "linkToken"),
            nonce=_query_value(query, "nonce"),
            opener=(channel, index),
        )
        return {
            "status": result.status,
            "title": result.title,
            "result": result.result,
            "webhook": result.webhook,
        }

    return router
