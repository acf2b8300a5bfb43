"""Templates → LINE message objects (camelCase JSON dicts, as the Messaging API takes them).

Two messages per send: a text message (the template's ``text``) and a Flex bubble — header
with the municipality's name, body with the headline and the gist (要点) of the notice,
footer with one button opening the application URL (``https`` only; no button otherwise) —
whose ``altText`` is the template's ``alt_text`` (default ``【{自治体名}】{見出し}``).

Substitution: ``{名前}`` is replaced with the value from ``values``; a line whose placeholder
has no value (a notice without a closing date and ``締切: {締切}``) is left out, so a template
reads well for every notice. Values come from the notice, the tenant and the template only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from contracts.notice import Notice
from municipal_node.segments.ages import JST

MAX_TEXT_UNITS = 5000
MAX_ALT_UNITS = 400
MAX_BUBBLE_BYTES = 30_000
MAX_URI_CHARS = 1000
SUMMARY_CHARS = 200
ELLIPSIS = "…"
DEFAULT_BUTTON_LABEL = "詳しく見る・申請する"

_TOKEN_RE = re.compile(r"\{([^{}]*)\}")
_WEEKDAYS = "月火水木金土日"


@dataclass(frozen=True)
class TemplateFields:
    """What a template says (a saved ``MessageTemplate`` or an unsaved one)."""

    text: str
    button_label: str | None = None
    button_url: str | None = None
    alt_text: str | None = None
    department: str | None = None
    phone: str | None = None
    apply_url: str | None = None


DEFAULT_TEMPLATE = TemplateFields(
    text="【{自治体名}】{見出し}\n\n{本文}\n\n詳しくは: {受付URL}",
    button_label=DEFAULT_BUTTON_LABEL,
    button_url="{受付URL}",
    alt_text="【{自治体名}】{見出し}",
)


@dataclass(frozen=True)
class NoticeFields:
    """The parts of a notice a template may show."""

    headline: str
    body: str
    program_name: str
    legal_basis: str | None
    opens: datetime | None
    closes: datetime | None
    url: str | None

    @classmethod
    def of(cls, notice: Notice) -> NoticeFields:
        action = notice.action
        return cls(
            headline=notice.content.ja.headline,
            body=notice.content.ja.body,
            program_name=notice.program.name,
            legal_basis=notice.program.legal_basis,
            opens=action.opens if action is not None else None,
            closes=action.closes if action is not None else None,
            url=action.url if action is not None else None,
        )


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cut_units(text: str, budget: int) -> str:
    """``text`` within ``budget`` UTF-16 units, ending with "…" when cut."""
    if utf16_units(text) <= budget:
        return text
    used = utf16_units(ELLIPSIS)
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > budget:
            return text[:index] + ELLIPSIS
    return text


def japanese_time(moment: datetime | None) -> str:
    """``2026年8月31日（月）17:00`` in JST (the time left out at midnight); "" for None."""
    if moment is None:
        return ""
    local = moment.astimezone(JST)
    text = f"{local.year}年{local.month}月{local.day}日（{_WEEKDAYS[local.weekday()]}）"
    if (local.hour, local.minute) != (0, 0):
        text += f"{local.hour}:{local.minute:02d}"
    return text


def values_for(template: TemplateFields, notice: NoticeFields, tenant_name: str) -> dict[str, str]:
    return {
        "自治体名": tenant_name,
        "担当課": template.department or "",
        "電話番号": template.phone or "",
        "受付URL": template.apply_url or notice.url or "",
        "見出し": notice.headline,
        "本文": notice.body.strip(),
        "制度名": notice.program_name,
        "受付開始": japanese_time(notice.opens),
        "締切": japanese_time(notice.closes),
        "根拠法令": notice.legal_basis or "",
    }


def substitute(text: str, values: dict[str, str]) -> str:
    """Fill placeholders; drop lines with an empty one; no runs of blank lines; trimmed."""
    lines: list[str] = []
    for line in text.split("\n"):
        names = _TOKEN_RE.findall(line)
        if any(not values.get(name, "") for name in names):
            continue
        lines.append(_TOKEN_RE.sub(lambda match: values.get(match.group(1), ""), line))
    kept: list[str] = []
    for line in lines:
        if not line.strip() and kept and not kept[-1].strip():
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def is_https(url: str) -> bool:
    parts = urlsplit(url)
    return (
        url.startswith("https://")
        and parts.scheme == "https"
        and bool(parts.hostname)
        and not any(ch.isspace() or ord(ch) < 0x20 for ch in url)
    )


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_button_url(url: str) -> bool:
    """A URL a message's button may open: https — or plain http to this very machine, for a
    node tried out on loopback (``todoke demo``, a developer); no real resident reaches that."""
    if is_https(url):
        return True
    parts = urlsplit(url)
    return (
        parts.scheme == "http"
        and url.startswith("http://")
        and parts.hostname in _LOOPBACK_HOSTS
        and not any(ch.isspace() or ord(ch) < 0x20 for ch in url)
    )


def button_target(template: TemplateFields, values: dict[str, str]) -> str | None:
    """The button's URL: https (or loopback http, ``is_button_url``) and within LINE's URI length,
    else None (no button)."""
    if not template.button_url:
        return None
    url = substitute(template.button_url, values)
    if not url or not is_button_url(url) or len(url) > MAX_URI_CHARS:
        return None
    return url


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, "wrap": True, **style}


def _window(values: dict[str, str]) -> str | None:
    opens, closes = values["受付開始"], values["締切"]
    if opens and closes:
        return f"受付期間: {opens}〜{closes}"
    if closes:
        return f"締切: {closes}"
    if opens:
        return f"受付開始: {opens}"
    return None


def flex_bubble(
    template: TemplateFields, notice: NoticeFields, values: dict[str, str]
) -> dict[str, Any]:
    header: list[dict[str, Any]] = [_text(values["自治体名"], weight="bold", size="sm")]
    if values["担当課"]:
        header.append(_text(values["担当課"], size="xs", color="#666666"))
    summary = notice.body.strip()
    if len(summary) > SUMMARY_CHARS:
        summary = summary[:SUMMARY_CHARS] + ELLIPSIS
    body: list[dict[str, Any]] = [
        _text(notice.headline, weight="bold", size="md"),
        _text(summary, size="sm"),
    ]
    window = _window(values)
    if window is not None:
        body.append(_text(window, size="xs", color="#666666"))
    contact = " ".join(part for part in (values["担当課"], values["電話番号"]) if part)
    if values["電話番号"]:
        body.append(_text(f"問い合わせ: {contact}", size="xs", color="#666666"))
    bubble: dict[str, Any] = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "contents": header},
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": body},
    }
    target = button_target(template, values)
    if target is not None:
        label = template.button_label or DEFAULT_BUTTON_LABEL
        bubble["footer"] = {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {
                    "type": "button",
                    "style": "primary",
                    "action": {"type": "uri", "label": label, "uri": target},
                }
            ],
        }
    return bubble


def render_text(template: TemplateFields, values: dict[str, str]) -> str:
    text = substitute(template.text, values)
    if not text:
        text = f"【{values['自治体名']}】{values['見出し']}"
    return cut_units(text, MAX_TEXT_UNITS)


def render_alt_text(template: TemplateFields, values: dict[str, str]) -> str:
    source = template.alt_text or DEFAULT_TEMPLATE.alt_text or ""
    alt = substitute(source, values) or f"【{values['自治体名']}】{values['見出し']}"
    return cut_units(alt, MAX_ALT_UNITS)


def render_messages(
    template: TemplateFields, notice: NoticeFields, *, tenant_name: str
) -> list[dict[str, Any]]:
    """``[text message, flex message]`` for one notice (no resident data anywhere)."""
    values = values_for(template, notice, tenant_name)
    return [
        {"type": "text", "text": render_text(template, values)},
        {
            "type": "flex",
            "altText": render_alt_text(template, values),
            "contents": flex_bubble(template, notice, values),
        },
    ]
