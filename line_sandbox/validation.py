"""Hand-coded checks of request bodies, in LINE's wording.

The OpenAPI files fix array sizes; what is inside a message object (lengths, sizes, required
fields per type) is coded here. Structural mistakes are collected into one
``The request body has N error(s)`` response; a malformed recipient id or a wrongly typed value
is reported like LINE does, as ``The property, 'x', in the request body is invalid``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from line_sandbox.errors import Detail, LineApiError, body_errors, invalid_property

USER_ID_RE = re.compile(r"U[0-9a-f]{32}")
USER_ID_LENGTH = 33
USER_IDS_RE = re.compile(r"(?:U[0-9a-f]{32})*")
TO_ID_RE = re.compile(r"[UCR][0-9a-f]{32}")
AGGREGATION_UNIT_RE = re.compile(r"^[a-zA-Z0-9_]{1,30}$")

MAX_MESSAGES = 5
MAX_MULTICAST_TO = 500
MAX_TEXT_UTF16 = 5000
MAX_ALT_TEXT = 400
MAX_BUBBLE_BYTES = 30 * 1024
MAX_CAROUSEL_BYTES = 50 * 1024
MAX_CAROUSEL_BUBBLES = 12
MAX_URL = 2000
MAX_QUICK_REPLY_ITEMS = 13

MESSAGE_TYPES = (
    "text",
    "image",
    "video",
    "audio",
    "location",
    "sticker",
    "template",
    "imagemap",
    "flex",
    "textV2",
    "coupon",
)
TEMPLATE_TYPES = ("buttons", "confirm", "carousel", "image_carousel")
FLEX_CONTAINER_TYPES = ("bubble", "carousel")

EMPTY = "May not be empty"
NULL = "May not be null"


def one_of(values: tuple[str, ...]) -> str:
    return f"Must be one of the following values: [{', '.join(values)}]"


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@dataclass
class SendRequest:
    """A validated send request."""

    messages: list[dict[str, Any]]
    to: list[str] = field(default_factory=list)
    reply_token: str | None = None
    notification_disabled: bool = False
    custom_aggregation_units: list[str] = field(default_factory=list)


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise LineApiError(400, "The request body could not be parsed as JSON (line: 1, column: 1)")
    try:
        text = raw.decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise LineApiError(
            400, f"The request body could not be parsed as JSON (line: 1, column: {exc.start + 1})"
        ) from exc
    except json.JSONDecodeError as exc:
        raise LineApiError(
            400,
            f"The request body could not be parsed as JSON (line: {exc.lineno}, column: {exc.colno})",
        ) from exc


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid_property("")
    return body


def _check_length(
    details: list[Detail], value: Any, prop: str, maximum: int, *, utf16: bool = False
) -> None:
    if value is None or value == "":
        details.append(Detail(EMPTY, prop))
        return
    if not isinstance(value, str):
        raise invalid_property(prop)
    size = utf16_length(value) if utf16 else len(value)
    if size > maximum:
        details.append(Detail(f"Length must be between 0 and {maximum}", prop))


def _check_url(details: list[Detail], value: Any, prop: str) -> None:
    _check_length(details, value, prop, MAX_URL)
    if isinstance(value, str) and value and not value.startswith("https://"):
        details.append(Detail("Must be a valid HTTPS URL", prop))


def _check_flex(details: list[Detail], message: dict[str, Any], prefix: str) -> None:
    _check_length(details, message.get("altText"), f"{prefix}.altText", MAX_ALT_TEXT, utf16=True)
    contents = message.get("contents")
    if contents is None:
        details.append(Detail(NULL, f"{prefix}.contents"))
        return
    if not isinstance(contents, dict):
        raise invalid_property(f"{prefix}.contents")
    kind = contents.get("type")
    if kind not in FLEX_CONTAINER_TYPES:
        details.append(Detail(one_of(FLEX_CONTAINER_TYPES), f"{prefix}.contents.type"))
        return
    if kind == "bubble":
        bubbles = [contents]
    else:
        inner = contents.get("contents")
        if not isinstance(inner, list) or not 1 <= len(inner) <= MAX_CAROUSEL_BUBBLES:
            details.append(
                Detail(
                    f"Size must be between 1 and {MAX_CAROUSEL_BUBBLES}",
                    f"{prefix}.contents.contents",
                )
            )
            return
        bubbles = inner
        if json_size(contents) > MAX_CAROUSEL_BYTES:
            details.append(Detail("Size must be at most 50KB", f"{prefix}.contents"))
    for j, bubble in enumerate(bubbles):
        where = f"{prefix}.contents" if kind == "bubble" else f"{prefix}.contents.contents[{j}]"
        if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
            details.append(Detail(one_of(("bubble",)), f"{where}.type"))
        elif json_size(bubble) > MAX_BUBBLE_BYTES:
            details.append(Detail("Size must be at most 30KB", where))


def _check_template(details: list[Detail], message: dict[str, Any], prefix: str) -> None:
    _check_length(details, message.get("altText"), f"{prefix}.altText", MAX_ALT_TEXT, utf16=True)
    template = message.get("template")
    if template is None:
        details.append(Detail(NULL, f"{prefix}.template"))
        return
    if not isinstance(template, dict):
        raise invalid_property(f"{prefix}.template")
    kind = template.get("type")
    if kind not in TEMPLATE_TYPES:
        details.append(Detail(one_of(TEMPLATE_TYPES), f"{prefix}.template.type"))
        return
    if kind in ("buttons", "confirm") and not template.get("text"):
        details.append(Detail(EMPTY, f"{prefix}.template.text"))
    if kind in ("buttons", "confirm") and not isinstance(template.get("actions"), list):
        details.append(Detail(NULL, f"{prefix}.template.actions"))
    if kind in ("carousel", "image_carousel") and not isinstance(template.get("columns"), list):
        details.append(Detail(NULL, f"{prefix}.template.columns"))


def _check_message(details: list[Detail], message: Any, index: int) -> None:
    prefix = f"messages[{index}]"
    if not isinstance(message, dict):
        raise invalid_property(prefix)
    kind = message.get("type")
    if kind is None or kind == "":
        details.append(Detail(EMPTY, f"{prefix}.type"))
        return
    if kind not in MESSAGE_TYPES:
        details.append(Detail(one_of(MESSAGE_TYPES), f"{prefix}.type"))
        return
    if kind in ("text", "textV2"):
        _check_length(details, message.get("text"), f"{prefix}.text", MAX_TEXT_UTF16, utf16=True)
    elif kind == "flex":
        _check_flex(details, message, prefix)
    elif kind == "template":
        _check_template(details, message, prefix)
    elif kind == "image":
        _check_url(details, message.get("originalContentUrl"), f"{prefix}.originalContentUrl")
        _check_url(details, message.get("previewImageUrl"), f"{prefix}.previewImageUrl")
    elif kind == "sticker":
        for key in ("packageId", "stickerId"):
            if not message.get(key):
                details.append(Detail(EMPTY, f"{prefix}.{key}"))
    quick = message.get("quickReply")
    if isinstance(quick, dict):
        items = quick.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUICK_REPLY_ITEMS:
            details.append(
                Detail(
                    f"Size must be between 1 and {MAX_QUICK_REPLY_ITEMS}",
                    f"{prefix}.quickReply.items",
                )
            )


def _check_messages(details: list[Detail], body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        details.append(Detail(NULL, "messages"))
        return []
    if not isinstance(messages, list):
        raise invalid_property("messages")
    if not 1 <= len(messages) <= MAX_MESSAGES:
        details.append(Detail(f"Size must be between 1 and {MAX_MESSAGES}", "messages"))
        return []
    for i, message in enumerate(messages):
        _check_message(details, message, i)
    return messages


def _notification_disabled(body: dict[str, Any]) -> bool:
    value = body.get("notificationDisabled", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid_property("notificationDisabled")
    return value


def _aggregation_units(details: list[Detail], body: dict[str, Any]) -> list[str]:
    units = body.get("customAggregationUnits")
    if units is None:
        return []
    if not isinstance(units, list):
        raise invalid_property("customAggregationUnits")
    if len(units) > 1:
        details.append(Detail("Size must be between 0 and 1", "customAggregationUnits"))
        return []
    for i, unit in enumerate(units):
        if not isinstance(unit, str) or not AGGREGATION_UNIT_RE.fullmatch(unit):
            details.append(
                Detail(f"Must match {AGGREGATION_UNIT_RE.pattern}", f"customAggregationUnits[{i}]")
            )
    return [u for u in units if isinstance(u, str)]


def validate_messages_only(body: Any) -> SendRequest:
    """``/validate/*`` and broadcast: only ``messages`` (and ``notificationDisabled``)."""
    obj = _require_object(body)
    details: list[Detail] = []
    messages = _check_messages(details, obj)
    disabled = _notification_disabled(obj)
    if details:
        raise body_errors(details)
    return SendRequest(messages=messages, notification_disabled=disabled)


def validate_push(body: Any) -> SendRequest:
    obj = _require_object(body)
    details: list[Detail] = []
    to = obj.get("to")
    if to is None or to == "":
        details.append(Detail(EMPTY, "to"))
    elif not isinstance(to, str):
        raise invalid_property("to")
    messages = _check_messages(details, obj)
    units = _aggregation_units(details, obj)
    disabled = _notification_disabled(obj)
    if details:
        raise body_errors(details)
    if not isinstance(to, str) or not TO_ID_RE.fullmatch(to):
        raise invalid_property("to")
    return SendRequest(
        messages=messages, to=[to], notification_disabled=disabled, custom_aggregation_units=units
    )


def all_user_ids(values: list[Any]) -> bool:
    """Whether every value is a ``str`` matching ``U[0-9a-f]{32}``, checked in C: all are ``str``
    of length 33 and their concatenation is a run of ``U`` + 32 hex digits (with equal lengths,
    each 33-character slice of the run is exactly one of the values)."""
    return (
        set(map(type, values)) == {str}
        and set(map(len, values)) == {USER_ID_LENGTH}
        and USER_IDS_RE.fullmatch("".join(values)) is not None
    )


def validate_multicast(body: Any) -> SendRequest:
    obj = _require_object(body)
    details: list[Detail] = []
    to = obj.get("to")
    recipients: list[Any] = []
    if to is None:
        details.append(Detail(NULL, "to"))
    elif not isinstance(to, list):
        raise invalid_property("to")
    elif not 1 <= len(to) <= MAX_MULTICAST_TO:
        details.append(Detail(f"Size must be between 1 and {MAX_MULTICAST_TO}", "to"))
    else:
        recipients = to
    messages = _check_messages(details, obj)
    units = _aggregation_units(details, obj)
    disabled = _notification_disabled(obj)
    if details:
        raise body_errors(details)
    if recipients and not all_user_ids(recipients):
        for i, user_id in enumerate(recipients):  # find the first bad one, for the message
            if not isinstance(user_id, str) or not USER_ID_RE.fullmatch(user_id):
                raise invalid_property(f"to[{i}]")
    return SendRequest(
        messages=messages,
        to=list(recipients),
        notification_disabled=disabled,
        custom_aggregation_units=units,
    )


def validate_reply(body: Any) -> SendRequest:
    obj = _require_object(body)
    details: list[Detail] = []
    token = obj.get("replyToken")
    if token is None or token == "":
        details.append(Detail(EMPTY, "replyToken"))
    elif not isinstance(token, str):
        raise invalid_property("replyToken")
    messages = _check_messages(details, obj)
    disabled = _notification_disabled(obj)
    if details:
        raise body_errors(details)
    return SendRequest(messages=messages, reply_token=str(token), notification_disabled=disabled)
