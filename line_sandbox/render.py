"""Turning LINE message objects into simple, escaped HTML for the chat pages.

Everything that comes from a request is passed through ``html.escape``; URLs are used only when
they are ``https://`` or ``http://`` (LINE's URI actions also take http; anything else, e.g.
``javascript:``, is dropped).
"""

from __future__ import annotations

from html import escape
from typing import Any

MAX_DEPTH = 24


def safe_url(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return escape(value, quote=True)
    return None


def text(value: Any) -> str:
    return escape(value if isinstance(value, str) else str(value), quote=True)


def _action(action: Any, label_fallback: str = "") -> str:
    if not isinstance(action, dict):
        return ""
    label = text(action.get("label") or label_fallback or action.get("type", ""))
    url = safe_url(action.get("uri"))
    if url is not None:
        return f'<a class="btn" href="{url}" rel="noopener noreferrer" target="_blank">{label}</a>'
    return f'<span class="btn">{label}</span>'


def _flex(node: Any, depth: int = 0) -> str:
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return ""
    kind = node.get("type")
    if kind == "carousel":
        inner = "".join(
            f'<div class="card">{_flex(b, depth + 1)}</div>' for b in node.get("contents") or []
        )
        return f'<div class="carousel">{inner}</div>'
    if kind == "bubble":
        parts = [
            _flex(node.get(section), depth + 1) for section in ("header", "hero", "body", "footer")
        ]
        return "".join(parts)
    if kind == "box":
        direction = "row" if node.get("layout") in ("horizontal", "baseline") else "column"
        inner = "".join(_flex(child, depth + 1) for child in node.get("contents") or [])
        return f'<div class="box {direction}">{inner}</div>'
    if kind == "text":
        spans = node.get("contents")
        if isinstance(spans, list) and spans:
            value = "".join(text(s.get("text", "")) for s in spans if isinstance(s, dict))
        else:
            value = text(node.get("text", ""))
        weight = " bold" if node.get("weight") == "bold" else ""
        return f'<p class="ftext{weight}">{value}</p>'
    if kind == "button":
        return _action(node.get("action"))
    if kind in ("image", "video"):
        url = safe_url(node.get("url") or node.get("previewUrl"))
        return f'<img class="fimg" src="{url}" alt="">' if url else ""
    if kind == "separator":
        return "<hr>"
    return ""


def _template(template: Any) -> str:
    if not isinstance(template, dict):
        return ""
    parts: list[str] = []
    columns = template.get("columns")
    blocks = columns if isinstance(columns, list) else [template]
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("title"):
            parts.append(f'<p class="ftext bold">{text(block["title"])}</p>')
        if block.get("text"):
            parts.append(f'<p class="ftext">{text(block["text"])}</p>')
        for action in block.get("actions") or []:
            parts.append(_action(action))
        if block.get("action"):
            parts.append(_action(block.get("action")))
    return "".join(parts)


def message_html(message: dict[str, Any]) -> str:
    """The inside of one chat bubble."""
    kind = message.get("type")
    if kind in ("text", "textV2"):
        return f'<div class="bubble text">{text(message.get("text", ""))}</div>'
    if kind == "flex":
        alt = text(message.get("altText", ""))
        return (
            f'<div class="bubble flex"><p class="alt">{alt}</p>'
            f"{_flex(message.get('contents'))}</div>"
        )
    if kind == "template":
        alt = text(message.get("altText", ""))
        return (
            f'<div class="bubble flex"><p class="alt">{alt}</p>'
            f"{_template(message.get('template'))}</div>"
        )
    if kind == "image":
        url = safe_url(message.get("previewImageUrl"))
        image = f'<img class="fimg" src="{url}" alt="画像">' if url else "[画像]"
        return f'<div class="bubble media">{image}</div>'
    if kind == "sticker":
        return '<div class="bubble text">[スタンプ]</div>'
    label = {"video": "動画", "audio": "音声", "location": "位置情報", "imagemap": "イメージマップ"}
    return f'<div class="bubble text">[{text(label.get(str(kind), str(kind)))}]</div>'
