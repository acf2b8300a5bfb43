"""HTML pages showing each simulated resident's talk screen as a phone would (Japanese UI)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from line_sandbox.channels import AdminError, get_channel
from line_sandbox.render import message_html
from line_sandbox.residents import display_name
from line_sandbox.store import JST, Channel, Friendship, SandboxState

PAGE_SIZE = 200
WEEKDAYS = "月火水木金土日"

STYLE = """
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,"Hiragino Sans","Noto Sans JP",sans-serif;
background:#eef1f5;color:#111}a{color:#06c755}.phone{max-width:430px;margin:0 auto;min-height:100vh;
background:#8cabd9;display:flex;flex-direction:column}header{background:#243447;color:#fff;padding:12px 14px;
font-weight:bold;display:flex;gap:10px;align-items:center}header a{color:#fff;text-decoration:none}
.talk{padding:10px;flex:1}.day{text-align:center;margin:12px 0}.day span{background:rgba(0,0,0,.25);color:#fff;
border-radius:10px;padding:2px 10px;font-size:12px}.row{display:flex;align-items:flex-end;gap:6px;margin:8px 0}
.avatar{width:34px;height:34px;border-radius:50%;background:#06c755;color:#fff;font-size:12px;display:flex;
align-items:center;justify-content:center;flex:none}.msgs{display:flex;flex-direction:column;gap:4px;max-width:78%}
.bubble{background:#fff;border-radius:16px;padding:8px 12px;white-space:pre-wrap;word-break:break-word;font-size:15px}
.flex{padding:10px}.alt{color:#888;font-size:11px;margin:0 0 6px}.ftext{margin:2px 0}.bold{font-weight:bold}
.box.row{display:flex;gap:6px}.box.column{display:flex;flex-direction:column;gap:2px}
.btn{display:block;text-align:center;border:1px solid #06c755;border-radius:8px;padding:6px;margin-top:6px;
color:#06c755;text-decoration:none}.fimg{max-width:100%;border-radius:8px}hr{border:0;border-top:1px solid #ddd}
.carousel{display:flex;gap:8px;overflow-x:auto}.card{min-width:220px}.time{font-size:10px;color:#334}
.empty{text-align:center;color:#fff;margin-top:40px}table{width:100%;border-collapse:collapse;background:#fff}
td,th{padding:6px 8px;border-bottom:1px solid #eee;font-size:14px;text-align:left}
.list{padding:10px}.list h2{font-size:16px;color:#fff}.badge{font-size:11px;color:#888}
"""


def page(title: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body><div class="phone">{body}</div></body></html>'
    )
    return HTMLResponse(html)


def jst(moment: datetime) -> datetime:
    return moment.astimezone(JST)


def status_label(channel: Channel, index: int) -> str:
    return "友だち" if channel.friendship[index] == Friendship.FRIEND else "ブロック中"


def user_rows(channel: Channel, offset: int, limit: int) -> str:
    rows = []
    for index in range(offset, min(offset + limit, len(channel.user_ids))):
        user_id = channel.user_ids[index]
        href = f"/sandbox/chat/{quote(channel.name)}/{quote(user_id)}"
        rows.append(
            f'<tr><td><a href="{escape(href)}">{escape(display_name(index))}</a>'
            f'<div class="badge">{escape(user_id)}</div></td>'
            f"<td>{escape(status_label(channel, index))}</td><td>{channel.counts[index]}通</td></tr>"
        )
    return "".join(rows)


def channel_section(channel: Channel, offset: int, limit: int) -> str:
    name = escape(channel.name)
    more = ""
    if offset + limit < len(channel.user_ids):
        href = f"/sandbox/chat/{quote(channel.name)}?offset={offset + limit}"
        more = f'<p><a href="{escape(href)}">次の{limit}人を見る</a></p>'
    return (
        f"<h2>{name}（友だち{channel.friendship.count(Friendship.FRIEND)}人／"
        f"登録{len(channel.user_ids)}人）</h2>"
        f"<table><tr><th>住民</th><th>状態</th><th>受信</th></tr>"
        f"{user_rows(channel, offset, limit)}</table>{more}"
    )


def talk_html(channel: Channel, index: int) -> str:
    parts: list[str] = []
    last_day = None
    for request_index in channel.inboxes.get(index, ()):
        accepted = channel.requests[request_index]
        local = jst(accepted.received_at)
        day = local.date()
        if day != last_day:
            label = f"{local.month}月{local.day}日({WEEKDAYS[local.weekday()]})"
            parts.append(f'<div class="day"><span>{escape(label)}</span></div>')
            last_day = day
        bubbles = "".join(message_html(m) for m in accepted.messages)
        parts.append(
            f'<div class="row"><div class="avatar">公式</div><div class="msgs">{bubbles}</div>'
            f'<span class="time">{local:%H:%M}</span></div>'
        )
    if not parts:
        return '<p class="empty">メッセージはまだありません</p>'
    return "".join(parts)


def open_in_line_script() -> str:
    """Buttons open their URI in the resident's (simulated) LINE app, through
    ``/sandbox/liff/open/…`` (``line_sandbox.liff``, which logs them in to LIFF pages)."""
    return '<script src="/sandbox/liff/phone.js" defer></script>'


def build_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox/chat")

    def state_of(request: Request) -> SandboxState:
        state: SandboxState = request.app.state.sandbox
        return state

    @router.get("", response_class=HTMLResponse)
    async def index_page(request: Request) -> HTMLResponse:
        channels = state_of(request).channels.values()
        sections = "".join(channel_section(c, 0, 50) for c in channels)
        if not sections:
            sections = '<p class="empty">チャネルがありません</p>'
        return page(
            "LINEサンドボックス — トーク一覧",
            f'<header>トーク一覧</header><div class="list">{sections}</div>',
        )

    @router.get("/{name}", response_class=HTMLResponse)
    async def channel_page(
        name: str, request: Request, offset: int = Query(0, ge=0)
    ) -> HTMLResponse:
        channel = get_channel(state_of(request), name)
        return page(
            f"{channel.name} — 友だち一覧",
            f'<header><a href="/sandbox/chat">＜</a>{escape(channel.name)}</header>'
            f'<div class="list">{channel_section(channel, offset, PAGE_SIZE)}</div>',
        )

    @router.get("/{name}/{user_id}", response_class=HTMLResponse)
    async def talk_page(name: str, user_id: str, request: Request) -> HTMLResponse:
        channel = get_channel(state_of(request), name)
        index = channel.index_of.get(user_id)
        if index is None:
            raise AdminError(404, "unknown_user", "この住民は見つかりません")
        back = f"/sandbox/chat/{quote(channel.name)}"
        header = (
            f'<header><a href="{escape(back)}">＜</a>{escape(channel.name)}'
            f'<span class="badge">{escape(display_name(index))}・'
            f"{escape(status_label(channel, index))}</span></header>"
        )
        return page(
            f"トーク — {display_name(index)}",
            f'{header}<div class="talk">{talk_html(channel, index)}</div>{open_in_line_script()}',
        )

    return router
