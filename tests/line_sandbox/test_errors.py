"""Authentication, body limits, JSON errors and request ids, over raw HTTP."""

from __future__ import annotations

import uuid

import pytest

from line_sandbox.errors import AUTH_FAILED
from tests.line_sandbox.conftest import AUTH
from tests.line_sandbox.helpers import http, post, text, user


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic dGVzdA=="}],
    ids=["missing", "unknown-token", "not-bearer"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/bot/message/push"),
        ("POST", "/v2/bot/message/multicast"),
        ("GET", "/v2/bot/followers/ids"),
        ("GET", "/v2/bot/info"),
    ],
)
def test_request_without_valid_token_is_401_with_lines_body(
    sandbox_server: str, headers: dict[str, str], method: str, path: str
) -> None:
    body = {"to": user(0), "messages": [text()]} if method == "POST" else None
    response = http().request(method, f"{sandbox_server}{path}", json=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": AUTH_FAILED}


def test_unauthenticated_push_delivers_nothing(sandbox_server: str) -> None:
    http().post(
        f"{sandbox_server}/v2/bot/message/push",
        json={"to": user(0), "messages": [text()]},
        headers={"Authorization": "Bearer nope"},
    )
    inbox = http().get(
        f"{sandbox_server}/sandbox/channels/test-channel/inbox", params={"user_id": user(0)}
    )
    assert inbox.json()["messages"] == []


def test_body_over_2_mb_is_413(sandbox_server: str) -> None:
    big = {"to": [user(0)], "messages": [text("x" * (2 * 1024 * 1024))]}
    response = post(sandbox_server, "/v2/bot/message/multicast", big)
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}


def test_body_just_under_2_mb_is_not_413(sandbox_server: str) -> None:
    # 2 MB of body is allowed; this one is rejected for its text length, not its size.
    body = {"to": [user(0)], "messages": [text("x" * (2 * 1024 * 1024 - 200))]}
    response = post(sandbox_server, "/v2/bot/message/multicast", body)
    assert response.status_code == 400


def test_invalid_json_is_400_with_position(sandbox_server: str) -> None:
    response = http().post(
        f"{sandbox_server}/v2/bot/message/multicast",
        content=b'{"to": [',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "The request body could not be parsed as JSON (line: 1, column: 9)"
    }


def test_every_response_carries_a_uuid_request_id(sandbox_server: str) -> None:
    responses = [
        post(sandbox_server, "/v2/bot/message/push", {"to": user(0), "messages": [text()]}),
        post(sandbox_server, "/v2/bot/message/push", {"to": user(0), "messages": []}),
        http().get(f"{sandbox_server}/v2/bot/info"),
        http().get(f"{sandbox_server}/v2/bot/unknown/thing", headers=AUTH),
    ]
    ids = [r.headers["x-line-request-id"] for r in responses]
    assert [r.status_code for r in responses] == [200, 400, 401, 404]
    assert all(str(uuid.UUID(i)) == i for i in ids)
    assert len(set(ids)) == len(ids)


def test_error_without_details_omits_the_details_key(sandbox_server: str) -> None:
    response = http().get(f"{sandbox_server}/v2/bot/profile/{user(0)}")
    assert "details" not in response.json()
