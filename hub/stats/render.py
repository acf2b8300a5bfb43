"""The public report pages of the hub, in Japanese (plain HTML, no script, no external assets).

Withheld cells read 「秘匿」; a phase total that excludes withheld cells is marked 「＊」 and the
page says what that means, so nobody reads a partial sum as the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from html import escape

from contracts.report import COUNT_NAMES
from hub.stats.service import NoticeReports, PhaseReports, ReportedNotice

JST = timezone(timedelta(hours=9), "JST")
COUNT_LABELS = {
    "targeted": "対象",
    "sent": "送信",
    "failed": "失敗",
    "blocked": "ブロック",
    "opened": "開封",
    "clicked": "クリック",
    "applied": "申請",
}
PHASE_LABELS = {
    "preview": "予告",
    "open": "受付開始",
    "reminder": "締切前リマインド",
    "single": "お知らせ",
}
WITHHELD = '<td class="withheld" title="1〜9件、または差し引きで分かるため非公表">秘匿</td>'
STYLE = """
body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse;margin:0 0 1.5rem}th,td{border:1px solid #bbb;padding:.3rem .6rem}
td{text-align:right}th[scope=row],td.name{text-align:left}.withheld{color:#777}
tfoot td,tfoot th{font-weight:bold;background:#f3f3f3}.note{font-size:.9rem;color:#444}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _jst(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")


def _number(value: int) -> str:
    return f"{value:,}"


def _phase_table(phase: PhaseReports) -> str:
    head = "".join(f'<th scope="col">{COUNT_LABELS[n]}</th>' for n in COUNT_NAMES)
    rows = []
    for report in phase.municipalities:
        cells = "".join(
            WITHHELD
            if report.counts[n] is None
            else f"<td>{_number(int(report.counts[n] or 0))}</td>"
            for n in COUNT_NAMES
        )
        name = escape(report.name or "")
        rows.append(
            f'<tr><th scope="row">{name}（{escape(report.municipality)}）</th>{cells}'
            f'<td class="name">{_jst(report.as_of)}</td></tr>'
        )
    totals = []
    partial = False
    for name in COUNT_NAMES:
        total = phase.totals[name]
        if total.value is None:
            totals.append(WITHHELD)
            continue
        mark = "" if total.complete else "＊"
        partial = partial or not total.complete
        totals.append(f"<td>{_number(total.value)}{mark}</td>")
    note = (
        '<p class="note">＊ 秘匿された市区町村の値を含まない、公表値だけの合計です'
        "（秘匿値はハブも受け取っていません）。</p>"
        if partial
        else ""
    )
    label = PHASE_LABELS.get(phase.phase, phase.phase)
    return (
        f"<h2>{escape(label)}（{escape(phase.phase)}）</h2>"
        f'<table><thead><tr><th scope="col">市区町村</th>{head}<th scope="col">集計時点</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody>"
        f'<tfoot><tr><th scope="row">合計（{len(phase.municipalities)}市区町村）</th>'
        f"{''.join(totals)}<td></td></tr></tfoot></table>{note}"
    )


def render_notice_reports(view: NoticeReports) -> str:
    title = f"配信報告: {view.headline}"
    intro = (
        f"<h1>{escape(view.headline)}</h1>"
        f"<p>{escape(view.program)} ・ {escape(view.publisher)}/{escape(view.notice_id)}</p>"
        '<p class="note">各市区町村のノードが署名して送った集計です。個人を特定できる情報は'
        "含みません。1〜9件の値と、差し引きで分かる値は「秘匿」です。</p>"
    )
    if not view.phases:
        return _page(title, intro + "<p>まだ報告はありません。</p>")
    return _page(title, intro + "".join(_phase_table(phase) for phase in view.phases))


def render_index(notices: Sequence[ReportedNotice]) -> str:
    if not notices:
        return _page("配信報告", "<h1>配信報告</h1><p>まだ報告はありません。</p>")
    rows = "".join(
        f'<tr><td class="name"><a href="/reports/{escape(n.publisher)}/{escape(n.notice_id)}">'
        f'{escape(n.headline)}</a></td><td class="name">{escape(n.program)}</td>'
        f'<td>{n.municipalities}</td><td class="name">{_jst(n.latest)}</td></tr>'
        for n in notices
    )
    return _page(
        "配信報告",
        "<h1>配信報告</h1><table><thead><tr><th>お知らせ</th><th>制度</th>"
        "<th>報告した市区町村</th><th>最新の報告</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>",
    )


def render_not_found() -> str:
    return _page(
        "見つかりません",
        "<h1>お知らせが見つかりません</h1><p>このハブにそのお知らせはありません"
        " / no such notice at this hub.</p>",
    )
