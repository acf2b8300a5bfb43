"""The printable letters (A4, one per resident): 「LINE連携用 登録コードのお知らせ」.

Pure rendering: every value is HTML-escaped; the page is produced in pieces so thousands of
letters stream without being held in memory.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from municipal_node.linking.service import JST

WEEKDAYS = "月火水木金土日"

HEAD = """<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<title>LINE連携用 登録コードのお知らせ（{tenant}・発行番号 {issue}）</title>
<style>
@page {{ size: A4; margin: 20mm 18mm; }}
body {{ font-family: "BIZ UDGothic", "Hiragino Sans", "Noto Sans JP", sans-serif;
  color: #000; margin: 0; }}
.letter {{ page-break-after: always; break-after: page; min-height: 250mm; }}
.letter:last-child {{ page-break-after: auto; break-after: auto; }}
.meta {{ text-align: right; font-size: 10pt; }}
h1 {{ font-size: 18pt; text-align: center; margin: 12mm 0 8mm; }}
.code {{ font-family: "BIZ UDGothic", "Consolas", monospace; font-size: 30pt;
  letter-spacing: 0.12em; text-align: center; border: 2px solid #000; padding: 6mm;
  margin: 6mm 20mm; }}
.expiry {{ text-align: center; font-size: 13pt; font-weight: bold; }}
ol {{ font-size: 12pt; line-height: 1.8; }}
.note {{ font-size: 10.5pt; line-height: 1.7; border-top: 1px solid #000; padding-top: 4mm; }}
</style>
</head>
<body>
"""

LETTER = """<section class="letter">
<p class="meta">{tenant}<br>発行番号 {issue}・整理番号 {resident}<br>発行日 {issued}</p>
<h1>LINE連携用 登録コードのお知らせ</h1>
<p>{tenant}のLINE公式アカウントとお手元のLINEを連携（ID連携）するための登録コードです。
ID連携をすると、あなたの世帯に関係する手当・給付金・健診などのお知らせがLINEで届くようになります。
ID連携は任意です。</p>
<div class="code">{code}</div>
<p class="expiry">有効期限: {expiry}まで（1回だけ使えます）</p>
<h2>使い方</h2>
<ol>
<li>LINEで「{tenant}」の公式アカウントを友だち追加します。</li>
<li>トーク画面に、上の登録コードをそのまま送信します（ハイフンはなくても構いません）。</li>
<li>返信に表示される「連携する」ボタンを押します（ボタンは10分間有効です）。</li>
<li>「連携が完了しました」と表示されたら完了です。</li>
</ol>
<div class="note">
<p>・このコードは他の人に教えないでください。{tenant}の職員が電話などでコードをおたずねすることはありません。</p>
<p>・連携の解除や、登録した情報の削除は、トーク画面のメニュー「受信設定」からいつでもできます。</p>
<p>・有効期限が切れた場合やコードをなくした場合は、{tenant}の担当窓口で再発行をお申し込みください。</p>
</div>
</section>
"""

TAIL = "</body>\n</html>\n"


def japanese_date(moment: datetime) -> str:
    day = moment.astimezone(JST).date()
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"


def head(*, tenant_name: str, issue_id: int) -> str:
    return HEAD.format(tenant=escape(tenant_name), issue=issue_id)


def letter(
    *,
    tenant_name: str,
    issue_id: int,
    resident_id: str,
    code: str,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    # expires_at is the first instant after the last valid JST day
    last_day = expires_at - timedelta(seconds=1)
    return LETTER.format(
        tenant=escape(tenant_name),
        issue=issue_id,
        resident=escape(resident_id),
        issued=japanese_date(issued_at),
        code=escape(code),
        expiry=japanese_date(last_day),
    )


def tail() -> str:
    return TAIL
