"""What a recurring notice or a date trigger says: a generic headline and body (optionally a
saved template's wording around them), rendered by ``relay_rules.render`` like a relayed
notice — text message + Flex bubble, no personal data anywhere.

``{日付}`` in a recurring notice's headline or body becomes the (adjusted) event day, e.g.
「支給日は{日付}です」 → 「支給日は2027年1月8日（金）です」. A trigger's wording cannot use it (each
child's day differs, and a message is the same for every recipient).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from municipal_node.delivery.line_client import InvalidMessagesError, MulticastTemplate
from municipal_node.dispatch.jobs import LOCAL_PUBLISHER
from municipal_node.dispatch.keys import aggregation_unit_for
from municipal_node.recurring.dates import japanese_day
from municipal_node.relay_rules.placeholders import Problem, check_literal_personal_data
from municipal_node.relay_rules.render import (
    DEFAULT_TEMPLATE,
    MAX_URI_CHARS,
    NoticeFields,
    TemplateFields,
    is_https,
    render_messages,
)

DATE_PLACEHOLDER = "{日付}"
_TOKEN_RE = re.compile(r"\{[^{}]*\}")
#: a day far enough in the future to measure the longest rendering
_SAMPLE_DAY = date(2099, 12, 31)


@dataclass(frozen=True)
class Content:
    headline: str
    body: str
    url: str | None
    #: the program's name (the template's ``{制度名}``): the rule's or trigger's name
    program_name: str


def _placeholders(field: str, text: str, *, allow_date: bool) -> list[Problem]:
    rest = text.replace(DATE_PLACEHOLDER, "") if allow_date else text
    problems: list[Problem] = []
    for token in dict.fromkeys(_TOKEN_RE.findall(rest)):
        allowed = f"使えるのは {DATE_PLACEHOLDER} だけです" if allow_date else "使えません"
        problems.append(
            Problem(
                field,
                "UNKNOWN_PLACEHOLDER",
                f"差し込み項目 {token} は{allowed} / placeholder {token} is not allowed here",
            )
        )
    if "{" in _TOKEN_RE.sub("", rest) or "}" in _TOKEN_RE.sub("", rest):
        problems.append(
            Problem(
                field,
                "STRAY_BRACE",
                "閉じていない波括弧 { } があります / a brace that is not part of a placeholder",
            )
        )
    return problems


def check_content(content: Content, *, allow_date: bool) -> list[Problem]:
    """Every reason the wording may not be saved (empty = fine)."""
    problems: list[Problem] = []
    for field, value in (("headline", content.headline), ("body", content.body)):
        problems += _placeholders(field, value, allow_date=allow_date)
        problems += check_literal_personal_data(field, value)
    if content.url is not None:
        if not is_https(content.url) or len(content.url) > MAX_URI_CHARS:
            problems.append(
                Problem(
                    "url",
                    "URL_NOT_HTTPS",
                    f"URL は https:// で始まる{MAX_URI_CHARS}文字以内の URL にしてください / url "
                    f"must be an https URL of at most {MAX_URI_CHARS} characters",
                )
            )
        problems += check_literal_personal_data("url", content.url)
    return problems


def render(
    content: Content,
    *,
    template: TemplateFields | None,
    tenant_name: str,
    event_day: date | None = None,
) -> list[dict[str, Any]]:
    """``[text, flex]`` messages; ``{日付}`` becomes ``event_day`` in Japanese."""
    day = japanese_day(event_day) if event_day is not None else ""
    notice = NoticeFields(
        headline=content.headline.replace(DATE_PLACEHOLDER, day),
        body=content.body.replace(DATE_PLACEHOLDER, day),
        program_name=content.program_name,
        legal_basis=None,
        opens=None,
        closes=None,
        url=content.url,
    )
    return render_messages(template or DEFAULT_TEMPLATE, notice, tenant_name=tenant_name)


def check_renders(
    content: Content, *, template: TemplateFields | None, tenant_name: str, tenant_code: str
) -> list[Problem]:
    """Whether LINE would take the messages (rendered for a sample day)."""
    messages = render(content, template=template, tenant_name=tenant_name, event_day=_SAMPLE_DAY)
    unit = aggregation_unit_for(tenant_code, LOCAL_PUBLISHER, "check", "notice")
    try:
        MulticastTemplate(messages, unit)
    except InvalidMessagesError as exc:
        return [
            Problem(
                "body",
                "LINE_WOULD_REFUSE",
                f"LINE が受け付けないメッセージになります / LINE would refuse the messages: {exc}",
            )
        ]
    return []
