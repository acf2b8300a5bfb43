"""The checks a template must pass before it is saved (and before a preview renders it).

1. Placeholders: only those of ``placeholders.PLACEHOLDERS`` in ``text`` and ``alt_text``;
   none in the other fields; a button URL is a literal ``https://`` URL or ``{受付URL}``.
2. No personal data typed in (LINE user id, 12-digit number, e-mail address) in any field.
3. Sizes for the LONGEST notice the contract allows (headline 60, body 1,000, program name and
   legal basis 200 characters each — all astral characters, 2 UTF-16 units each — and a
   2,000-character URL): text ≤ 5,000 UTF-16 units, altText ≤ 400, Flex bubble ≤ 30 KB.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime

from municipal_node.relay_rules.placeholders import (
    PLACEHOLDERS,
    URL_PLACEHOLDERS,
    Problem,
    check_literal_personal_data,
    check_placeholders,
    placeholders_in,
)
from municipal_node.relay_rules.render import (
    MAX_ALT_UNITS,
    MAX_BUBBLE_BYTES,
    MAX_TEXT_UNITS,
    MAX_URI_CHARS,
    NoticeFields,
    TemplateFields,
    flex_bubble,
    is_https,
    substitute,
    utf16_units,
    values_for,
)
from municipal_node.segments.ages import JST

_WIDE = "\U00020bb7"  # 𠮷: one character, two UTF-16 units
_PHONE_RE = re.compile(r"[0-9()+\- 内線]{1,20}")
#: problems after which the template cannot be rendered to measure it
_UNSIZABLE = frozenset({"PERSONAL_DATA_PLACEHOLDER", "UNKNOWN_PLACEHOLDER", "STRAY_BRACE"})

#: the longest notice fields the contract allows
LONGEST_NOTICE = NoticeFields(
    headline=_WIDE * 60,
    body=_WIDE * 1000,
    program_name=_WIDE * 200,
    legal_basis=_WIDE * 200,
    opens=datetime(2026, 12, 30, 23, 59, tzinfo=JST),
    closes=datetime(2026, 12, 31, 23, 59, tzinfo=JST),
    url="https://" + "a" * 1992,
)


def _no_placeholders(field: str, value: str | None) -> list[Problem]:
    if value is None or ("{" not in value and "}" not in value):
        return []
    return [
        Problem(
            field,
            "PLACEHOLDER_NOT_ALLOWED",
            "この項目には差し込み項目（{ }）は使えません / placeholders are not allowed here",
        )
    ]


def _button_url(value: str | None) -> list[Problem]:
    if value is None:
        return []
    if value in {f"{{{name}}}" for name in URL_PLACEHOLDERS}:
        return []
    if "{" in value or "}" in value:
        return [
            Problem(
                "button_url",
                "BAD_BUTTON_URL",
                "ボタンのURLは https:// で始まるURLか {受付URL} だけにできます"
                " / the button URL is an https:// URL or exactly {受付URL}",
            )
        ]
    return _https_url("button_url", value)


def _https_url(field: str, value: str | None) -> list[Problem]:
    if value is None:
        return []
    if not is_https(value):
        return [
            Problem(
                field,
                "NOT_HTTPS",
                f"URLは https:// で始まる正しいURLにしてください（{value[:60]}）"
                " / the URL must be https:// with a host",
            )
        ]
    if len(value) > MAX_URI_CHARS:
        return [
            Problem(
                field,
                "URL_TOO_LONG",
                f"URLは{MAX_URI_CHARS}文字以内にしてください（LINE の上限） / URL over "
                f"{MAX_URI_CHARS} characters",
            )
        ]
    return []


def _phone(value: str | None) -> list[Problem]:
    if value is None or _PHONE_RE.fullmatch(unicodedata.normalize("NFKC", value)):
        return []
    return [
        Problem(
            "phone",
            "BAD_PHONE",
            "電話番号は数字・ハイフン・括弧の20文字以内です（担当課の番号） / phone: digits, "
            "hyphens and parentheses, up to 20 characters",
        )
    ]


def _sizes(template: TemplateFields, tenant_name: str) -> list[Problem]:
    values = values_for(template, LONGEST_NOTICE, tenant_name)
    problems: list[Problem] = []
    text_units = utf16_units(substitute(template.text, values))
    if text_units > MAX_TEXT_UNITS:
        used = "".join(f"{{{name}}}" for name in dict.fromkeys(placeholders_in(template.text)))
        problems.append(
            Problem(
                "text",
                "TEXT_TOO_LONG",
                f"最も長い通知では本文が {text_units} 文字単位（UTF-16）になり、LINE の上限 "
                f"{MAX_TEXT_UNITS} を超えます（差し込み: {used}）。差し込み項目か文章を減らしてくだ"
                f"さい / rendered text can reach {text_units} UTF-16 units (limit "
                f"{MAX_TEXT_UNITS})",
            )
        )
    alt_units = utf16_units(substitute(template.alt_text or "", values))
    if alt_units > MAX_ALT_UNITS:
        problems.append(
            Problem(
                "alt_text",
                "ALT_TEXT_TOO_LONG",
                f"最も長い通知では代替テキストが {alt_units} 文字単位（UTF-16）になり、上限 "
                f"{MAX_ALT_UNITS} を超えます / altText can reach {alt_units} UTF-16 units "
                f"(limit {MAX_ALT_UNITS})",
            )
        )
    bubble = json.dumps(flex_bubble(template, LONGEST_NOTICE, values), ensure_ascii=False)
    if len(bubble.encode("utf-8")) > MAX_BUBBLE_BYTES:
        problems.append(
            Problem(
                "text",
                "BUBBLE_TOO_LARGE",
                f"Flex メッセージが {MAX_BUBBLE_BYTES} バイトを超えます / the Flex bubble "
                f"exceeds {MAX_BUBBLE_BYTES} bytes",
            )
        )
    return problems


def check_template(template: TemplateFields, *, tenant_name: str) -> list[Problem]:
    """Every reason ``template`` may not be saved (empty = fine)."""
    problems: list[Problem] = []
    problems += check_placeholders("text", template.text)
    if template.alt_text is not None:
        problems += check_placeholders("alt_text", template.alt_text)
    problems += _no_placeholders("button_label", template.button_label)
    problems += _no_placeholders("department", template.department)
    problems += _no_placeholders("phone", template.phone)
    problems += _no_placeholders("apply_url", template.apply_url)
    problems += _button_url(template.button_url)
    problems += _https_url("apply_url", template.apply_url)
    problems += _phone(template.phone)
    for field, value in (
        ("text", template.text),
        ("alt_text", template.alt_text),
        ("button_label", template.button_label),
        ("button_url", template.button_url),
        ("department", template.department),
        ("phone", template.phone),
        ("apply_url", template.apply_url),
    ):
        if value is not None:
            problems += check_literal_personal_data(field, value)
    if not any(problem.code in _UNSIZABLE for problem in problems):
        problems += _sizes(template, tenant_name)
    return problems


__all__ = ["LONGEST_NOTICE", "PLACEHOLDERS", "check_template"]
