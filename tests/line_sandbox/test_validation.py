"""Each hand-coded validation rule answers 400 in LINE's shape and wording (raw HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.line_sandbox.helpers import inbox, post, stats, text, user


def bubble(size_bytes: int) -> dict[str, Any]:
    return {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": "x" * size_bytes}],
        },
    }


def flex(alt: str = "お知らせ", contents: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "flex", "altText": alt}
    message["contents"] = bubble(10) if contents is None else contents
    return message


ONE = "The request body has 1 error(s)"

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "no-messages",
        {"to": [user(0)], "messages": []},
        {
            "message": ONE,
            "details": [{"message": "Size must be between 1 and 5", "property": "messages"}],
        },
    ),
    (
        "six-messages",
        {"to": [user(0)], "messages": [text()] * 6},
        {
            "message": ONE,
            "details": [{"message": "Size must be between 1 and 5", "property": "messages"}],
        },
    ),
    (
        "empty-text",
        {"to": [user(0)], "messages": [text("")]},
        {
            "message": ONE,
            "details": [{"message": "May not be empty", "property": "messages[0].text"}],
        },
    ),
    (
        "text-5001-utf16-units",
        # 2,500 emoji are 5,000 UTF-16 code units; one more character makes 5,001.
        {"to": [user(0)], "messages": [text("😀" * 2500 + "a")]},
        {
            "message": ONE,
            "details": [
                {"message": "Length must be between 0 and 5000", "property": "messages[0].text"}
            ],
        },
    ),
    (
        "unknown-type",
        {"to": [user(0)], "messages": [text(), {"type": "hologram"}]},
        {
            "message": ONE,
            "details": [
                {
                    "message": "Must be one of the following values: [text, image, video, audio, "
                    "location, sticker, template, imagemap, flex, textV2, coupon]",
                    "property": "messages[1].type",
                }
            ],
        },
    ),
    (
        "flex-without-alt-text",
        {"to": [user(0)], "messages": [flex(alt="")]},
        {
            "message": ONE,
            "details": [{"message": "May not be empty", "property": "messages[0].altText"}],
        },
    ),
    (
        "flex-alt-text-401",
        {"to": [user(0)], "messages": [flex(alt="あ" * 401)]},
        {
            "message": ONE,
            "details": [
                {"message": "Length must be between 0 and 400", "property": "messages[0].altText"}
            ],
        },
    ),
    (
        "flex-without-contents",
        {"to": [user(0)], "messages": [{"type": "flex", "altText": "a"}]},
        {
            "message": ONE,
            "details": [{"message": "May not be null", "property": "messages[0].contents"}],
        },
    ),
    (
        "flex-bubble-over-30kb",
        {"to": [user(0)], "messages": [flex(contents=bubble(31 * 1024))]},
        {
            "message": ONE,
            "details": [
                {"message": "Size must be at most 30KB", "property": "messages[0].contents"}
            ],
        },
    ),
    (
        "template-without-alt-text",
        {
            "to": [user(0)],
            "messages": [
                {"type": "template", "template": {"type": "confirm", "text": "?", "actions": []}}
            ],
        },
        {
            "message": ONE,
            "details": [{"message": "May not be empty", "property": "messages[0].altText"}],
        },
    ),
    (
        "image-not-https",
        {
            "to": [user(0)],
            "messages": [
                {
                    "type": "image",
                    "originalContentUrl": "http://example.com/a.png",
                    "previewImageUrl": "https://example.com/a.png",
                }
            ],
        },
        {
            "message": ONE,
            "details": [
                {
                    "message": "Must be a valid HTTPS URL",
                    "property": "messages[0].originalContentUrl",
                }
            ],
        },
    ),
    (
        "empty-to",
        {"to": [], "messages": [text()]},
        {
            "message": ONE,
            "details": [{"message": "Size must be between 1 and 500", "property": "to"}],
        },
    ),
    (
        "501-recipients",
        {"to": [user(i) for i in range(501)], "messages": [text()]},
        {
            "message": ONE,
            "details": [{"message": "Size must be between 1 and 500", "property": "to"}],
        },
    ),
    (
        "two-aggregation-units",
        {"to": [user(0)], "messages": [text()], "customAggregationUnits": ["a", "b"]},
        {
            "message": ONE,
            "details": [
                {"message": "Size must be between 0 and 1", "property": "customAggregationUnits"}
            ],
        },
    ),
    (
        "bad-aggregation-unit-name",
        {"to": [user(0)], "messages": [text()], "customAggregationUnits": ["no-hyphens"]},
        {
            "message": ONE,
            "details": [
                {
                    "message": "Must match ^[a-zA-Z0-9_]{1,30}$",
                    "property": "customAggregationUnits[0]",
                }
            ],
        },
    ),
    (
        "two-errors-counted",
        {"to": [user(0)], "messages": [text(""), flex(alt="")]},
        {
            "message": "The request body has 2 error(s)",
            "details": [
                {"message": "May not be empty", "property": "messages[0].text"},
                {"message": "May not be empty", "property": "messages[1].altText"},
            ],
        },
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_multicast_is_400_and_delivers_nothing(
    sandbox_server: str, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = post(sandbox_server, "/v2/bot/message/multicast", body)
    assert response.status_code == 400
    assert response.json() == expected
    assert stats(sandbox_server)["accepted_requests"] == 0


def test_text_of_exactly_5000_utf16_units_is_accepted(sandbox_server: str) -> None:
    response = post(
        sandbox_server,
        "/v2/bot/message/multicast",
        {"to": [user(0)], "messages": [text("😀" * 2500)]},
    )
    assert response.status_code == 200


def test_bubble_just_under_30kb_is_accepted(sandbox_server: str) -> None:
    response = post(
        sandbox_server,
        "/v2/bot/message/multicast",
        {"to": [user(0)], "messages": [flex(contents=bubble(29 * 1024))]},
    )
    assert response.status_code == 200


def test_malformed_user_id_in_multicast_is_400_and_nobody_receives(sandbox_server: str) -> None:
    recipients = [user(0), user(1), "U123", user(2)]
    response = post(
        sandbox_server, "/v2/bot/message/multicast", {"to": recipients, "messages": [text()]}
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "The property, 'to[2]', in the request body is invalid (line: -, column: -)"
    }
    for index in range(3):
        assert inbox(sandbox_server, user(index)) == []


def test_uppercase_hex_user_id_is_malformed(sandbox_server: str) -> None:
    response = post(
        sandbox_server, "/v2/bot/message/multicast", {"to": [user(0).upper()], "messages": [text()]}
    )
    assert response.status_code == 400


def test_malformed_push_recipient_is_400(sandbox_server: str) -> None:
    response = post(
        sandbox_server, "/v2/bot/message/push", {"to": "kutemukan", "messages": [text()]}
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "The property, 'to', in the request body is invalid (line: -, column: -)"
    }


@pytest.mark.parametrize("kind", ["push", "multicast", "broadcast", "reply", "narrowcast"])
def test_validate_endpoints_accept_valid_and_reject_invalid(sandbox_server: str, kind: str) -> None:
    path = f"/v2/bot/message/validate/{kind}"
    assert post(sandbox_server, path, {"messages": [text(), flex()]}).status_code == 200
    bad = post(sandbox_server, path, {"messages": [text("")]})
    assert bad.status_code == 400
    assert bad.json()["details"] == [
        {"message": "May not be empty", "property": "messages[0].text"}
    ]
    assert stats(sandbox_server)["accepted_requests"] == 0
