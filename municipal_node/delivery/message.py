"""The text residents receive: generic, from the notice's ``content.ja`` only.

``【<tenant name>】<headline>`` / blank line / body / blank line / ``詳しくは: <action.url>``.
Never any resident data. At most 5,000 UTF-16 code units (LINE's text limit); when too long,
the body is cut at a character boundary and ends with ``…``.
"""

from __future__ import annotations

from contracts.notice import Notice

MAX_UTF16_UNITS = 5000
ELLIPSIS = "…"


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, budget: int) -> str:
    """The longest prefix of ``text`` within ``budget`` UTF-16 units (no split surrogates)."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > budget:
            return text[:index]
    return text


def build_text(*, tenant_name: str, notice: Notice) -> str:
    ja = notice.content.ja
    head = f"【{tenant_name}】{ja.headline}"
    url = notice.action.url if notice.action is not None else None
    tail = f"\n\n詳しくは: {url}" if url else ""
    body = ja.body.strip()
    full = f"{head}\n\n{body}{tail}" if body else f"{head}{tail}"
    if utf16_units(full) <= MAX_UTF16_UNITS:
        return full
    budget = MAX_UTF16_UNITS - utf16_units(f"{head}\n\n{tail}") - utf16_units(ELLIPSIS)
    if budget <= 0:  # absurdly long tenant name: cut the whole text
        return _cut(full, MAX_UTF16_UNITS - 1) + ELLIPSIS
    return f"{head}\n\n{_cut(body, budget)}{ELLIPSIS}{tail}"
