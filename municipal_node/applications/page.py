"""The application page residents open in LINE (LIFF): one self-contained mobile HTML page.

Japanese, large tap targets, no other asset of the site: inline CSS and script (allowed by a
per-response CSP nonce) plus the LIFF SDK (``liff_sdk_url``). The script gets the LIFF ID token
and posts the answers as JSON to ``POST /liff/{code}/campaigns/{id}/applications``; the answer
(receipt or a Japanese error) is shown on the page. Everything from the database is escaped.
"""

from __future__ import annotations

import json
import secrets
from html import escape
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse

from municipal_node.applications.service import form_fields, jst_text
from municipal_node.campaigns.models import Campaign

STYLE = """
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,"Hiragino Sans","Noto Sans JP",
sans-serif;background:#f4f6f8;color:#111;font-size:17px;line-height:1.6}
main{max-width:480px;margin:0 auto;padding:16px 16px 48px}h1{font-size:21px;margin:8px 0 12px}
.card{background:#fff;border-radius:12px;padding:16px;margin:12px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.period{color:#333}.muted{color:#666;font-size:14px}label{display:block;font-weight:bold;margin:14px 0 6px}
input[type=text],input[type=tel],input[type=date],input[type=number],select,textarea{width:100%;
font-size:18px;padding:12px;border:1px solid #bbb;border-radius:8px;min-height:48px;background:#fff}
textarea{min-height:120px}.check{display:flex;gap:12px;align-items:center;min-height:48px;font-weight:normal}
.check input{width:28px;height:28px}.req{color:#c00;font-size:13px;margin-left:6px}
button{display:block;width:100%;min-height:56px;font-size:19px;font-weight:bold;border:0;
border-radius:12px;background:#06c755;color:#fff;margin-top:20px}button:disabled{background:#9bd9b4}
button.secondary{background:#fff;color:#06c755;border:2px solid #06c755}
.error{white-space:pre-line;background:#fdecea;color:#8a1c12;border-radius:8px;padding:12px;margin-top:12px}
.receipt{font-size:28px;font-weight:bold;letter-spacing:2px;text-align:center;margin:8px 0}
[hidden]{display:none!important}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("cfg").textContent);
  var form = document.getElementById("form");
  var submit = document.getElementById("submit");
  var status = document.getElementById("status");
  var done = document.getElementById("done");
  function say(text) { status.textContent = text; status.hidden = !text; }
  function ja(message) { return String(message || "").split(" / ")[0]; }
  if (typeof window.liff === "undefined") {
    say("LINE の準備ができませんでした。通信環境を確認して、もう一度開いてください。");
    return;
  }
  var liff = window.liff;
  liff.init({ liffId: cfg.liffId }).then(function () {
    if (!liff.isLoggedIn()) {
      say("LINE アプリからこのページを開いてください。");
      try { liff.login(); } catch (e) { /* outside LINE: nothing more to do */ }
      return;
    }
    submit.disabled = false;
  }).catch(function () {
    say("LINE の準備ができませんでした。もう一度開いてください。");
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    say("");
    var token = liff.getIDToken();
    if (!token) { say("LINE アプリからこのページを開いてください。"); return; }
    var answers = {};
    cfg.fields.forEach(function (field) {
      var input = form.elements["a." + field.name];
      if (!input) { return; }
      if (field.type === "checkbox") { answers[field.name] = input.checked; }
      else if (field.type === "number") {
        answers[field.name] = input.value === "" ? null : Number(input.value);
      } else { answers[field.name] = input.value; }
    });
    submit.disabled = true;
    submit.textContent = "送信しています…";
    fetch(cfg.postUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({ id_token: token, answers: answers })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          document.getElementById("receipt-no").textContent = body.receipt_no;
          document.getElementById("receipt-at").textContent = body.applied_at_jst;
          document.getElementById("done-title").textContent = body.created
            ? "申請を受け付けました" : "すでに申請を受け付けています";
          form.hidden = true;
          done.hidden = false;
          return;
        }
        say(ja(body.message) || "申請できませんでした。もう一度お試しください。");
        (body.errors || []).forEach(function (item) { say(status.textContent + "\n" + ja(item.message)); });
        submit.disabled = false;
        submit.textContent = "申請する";
      });
    }).catch(function () {
      say("送信できませんでした。通信環境を確認して、もう一度お試しください。");
      submit.disabled = false;
      submit.textContent = "申請する";
    });
  });
  document.getElementById("close").addEventListener("click", function () {
    try { liff.closeWindow(); } catch (e) { window.close(); }
  });
})();
"""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _document(title: str, body: str, *, nonce: str, sdk_url: str | None) -> str:
    sdk_src = "" if sdk_url is None else f" {_origin(sdk_url)}"
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'{sdk_src}; style-src 'nonce-{nonce}'; "
        f"connect-src 'self' https://*.line.me https://*.line-scdn.net{sdk_src}; "
        "img-src 'self' data: https://*.line-scdn.net; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">'
        '<meta name="referrer" content="no-referrer">'
        f'<title>{escape(title)}</title><style nonce="{nonce}">{STYLE}</style></head>'
        f"<body><main>{body}</main></body></html>"
    )


def message_page(title: str, text: str, *, status: int) -> HTMLResponse:
    """A page that only says something (unknown campaign, not configured, closed)."""
    nonce = secrets.token_urlsafe(16)
    body = f'<h1>{escape(title)}</h1><div class="card"><p>{escape(text)}</p></div>'
    return HTMLResponse(
        _document(title, body, nonce=nonce, sdk_url=None),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _field_html(field: dict[str, Any]) -> str:
    name = escape(f"a.{field['name']}")
    label = escape(str(field.get("label") or field["name"]))
    kind = field.get("type", "text")
    required = bool(field.get("required", False))
    mark = '<span class="req">必須</span>' if required else ""
    attr = " required" if required else ""
    ident = f"f-{escape(str(field['name']))}"
    if kind == "checkbox":
        return (
            f'<label class="check"><input type="checkbox" name="{name}" id="{ident}"{attr}>'
            f"{label}{mark}</label>"
        )
    head = f'<label for="{ident}">{label}{mark}</label>'
    if kind == "textarea":
        return f'{head}<textarea name="{name}" id="{ident}" maxlength="2000"{attr}></textarea>'
    if kind == "select":
        options = "".join(
            f'<option value="{escape(str(option))}">{escape(str(option))}</option>'
            for option in field.get("options") or []
        )
        return (
            f'{head}<select name="{name}" id="{ident}"{attr}>'
            f'<option value="">選択してください</option>{options}</select>'
        )
    input_type = {"tel": "tel", "date": "date", "number": "number"}.get(kind, "text")
    extra = ' inputmode="numeric" min="0"' if kind == "number" else ""
    extra += ' autocomplete="tel"' if kind == "tel" else ""
    return f'{head}<input type="{input_type}" name="{name}" id="{ident}"{extra}{attr}>'


def application_page(
    campaign: Campaign, *, tenant_name: str, liff_id: str, sdk_url: str, post_url: str
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    fields = form_fields(campaign)
    config = {
        "liffId": liff_id,
        "postUrl": post_url,
        "fields": [{"name": f["name"], "type": f.get("type", "text")} for f in fields],
    }
    # JSON inside <script>: escape "<" so no "</script>" can end it early
    config_json = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    questions = "".join(_field_html(field) for field in fields)
    body = (
        f'<p class="muted">{escape(tenant_name)}</p>'
        f"<h1>{escape(campaign.title)}</h1>"
        f'<div class="card"><p class="period">受付期間<br>{escape(jst_text(campaign.opens_at))}'
        f" 〜 {escape(jst_text(campaign.closes_at))}</p></div>"
        '<form id="form" class="card" novalidate>'
        f"{questions}"
        '<p class="muted">「申請する」を押すと、LINE のアカウントで申請します。'
        "入力内容は暗号化して保存されます。</p>"
        '<button type="submit" id="submit" disabled>申請する</button>'
        '<div id="status" class="error" role="alert" hidden></div></form>'
        '<div id="done" class="card" hidden><h2 id="done-title">申請を受け付けました</h2>'
        '<p>受付番号</p><p class="receipt" id="receipt-no"></p>'
        '<p class="muted">受付日時 <span id="receipt-at"></span></p>'
        '<p class="muted">受付番号は、お問い合わせの際にお伝えください。</p>'
        '<button type="button" class="secondary" id="close">閉じる</button></div>'
        f'<script type="application/json" id="cfg">{config_json}</script>'
        f'<script src="{escape(sdk_url)}" charset="utf-8"></script>'
        f'<script nonce="{nonce}">{SCRIPT}</script>'
    )
    return HTMLResponse(
        _document(campaign.title, body, nonce=nonce, sdk_url=sdk_url),
        headers={"Cache-Control": "no-store"},
    )
