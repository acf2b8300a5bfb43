"""The sandbox's answers (and the requests we sent) agree with LINE's official OpenAPI file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.line_sandbox.conftest import AUTH, CHANNEL
from tests.line_sandbox.helpers import http, new_key, post, text, user
from tests.line_sandbox.openapi_contract import ContractViolation, validate_exchange


@pytest.fixture
def spec(shared_dir: Path) -> Path:
    path = shared_dir / "line-openapi" / "messaging-api.yml"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def exercise(base: str) -> None:
    """One of every call the sandbox serves, successful and failing."""
    key = new_key()
    flex = {
        "type": "flex",
        "altText": "お知らせ",
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [{"type": "text", "text": "本文"}],
            },
        },
    }
    post(
        base,
        "/v2/bot/message/push",
        {"to": user(0), "messages": [text(), flex]},
        **{"X-Line-Retry-Key": key},
    )
    post(
        base,
        "/v2/bot/message/push",
        {"to": user(0), "messages": [text(), flex]},
        **{"X-Line-Retry-Key": key},
    )
    post(
        base,
        "/v2/bot/message/multicast",
        {"to": [user(0), user(1)], "messages": [text()], "customAggregationUnits": ["notice_1"]},
    )
    post(base, "/v2/bot/message/multicast", {"to": [user(0)], "messages": [text("")]})
    post(base, "/v2/bot/message/broadcast", {"messages": [text()]})
    for kind in ("push", "multicast", "broadcast", "reply", "narrowcast"):
        post(base, f"/v2/bot/message/validate/{kind}", {"messages": [flex]})
    for path, params in [
        ("/v2/bot/followers/ids", {"limit": "2"}),
        (f"/v2/bot/profile/{user(0)}", {}),
        (f"/v2/bot/profile/U{'0' * 32}", {}),
        ("/v2/bot/message/quota", {}),
        ("/v2/bot/message/quota/consumption", {}),
        ("/v2/bot/info", {}),
    ]:
        http().get(f"{base}{path}", params=params, headers=AUTH)
    http().get(f"{base}/v2/bot/info")  # 401


def test_every_exchange_matches_the_messaging_api_spec(sandbox_server: str, spec: Path) -> None:
    exercise(sandbox_server)
    exchanges = http().get(f"{sandbox_server}/sandbox/exchanges").json()
    assert len(exchanges) == 17
    assert {e["status"] for e in exchanges} == {200, 400, 401, 404, 409}
    for exchange in exchanges:
        validate_exchange(spec, exchange)


def test_validator_catches_a_response_that_breaks_the_spec(sandbox_server: str, spec: Path) -> None:
    post(sandbox_server, "/v2/bot/message/push", {"to": user(0), "messages": [text()]})
    exchange = http().get(f"{sandbox_server}/sandbox/exchanges").json()[0]
    broken = dict(exchange, response_body='{"sentMessages": []}')
    with pytest.raises(ContractViolation):
        validate_exchange(spec, broken)


def test_validator_catches_an_error_body_without_message(sandbox_server: str, spec: Path) -> None:
    http().get(f"{sandbox_server}/v2/bot/info")
    exchange = http().get(f"{sandbox_server}/sandbox/exchanges").json()[0]
    with pytest.raises(ContractViolation):
        validate_exchange(spec, dict(exchange, response_body='{"error": "nope"}'))


def test_injected_faults_answer_in_lines_documented_shape(sandbox_server: str, spec: Path) -> None:
    http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/faults",
        json={"error_share": 0.5, "burst_429": {"every": 4, "length": 1}, "seed": 2},
    ).raise_for_status()
    for _ in range(12):
        post(sandbox_server, "/v2/bot/message/multicast", {"to": [user(0)], "messages": [text()]})
    exchanges = http().get(f"{sandbox_server}/sandbox/exchanges").json()
    assert {e["status"] for e in exchanges} == {200, 429, 500}
    for exchange in exchanges:
        validate_exchange(spec, exchange)
