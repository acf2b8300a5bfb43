"""``LineClient``: one multicast attempt through the SDK against the REAL sandbox, classified."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from linebot.v3.messaging import MulticastRequest

from line_sandbox.residents import simulated_user_id
from municipal_node.delivery.line_client import (
    InvalidMessagesError,
    LineClient,
    MulticastTemplate,
    SendResult,
)
from tests.line_sandbox.openapi_contract import validate_exchange
from tests.municipal_node.helpers import CHANNEL, CHANNEL_TOKEN, LiveServer

MESSAGES: list[dict[str, Any]] = [
    {"type": "text", "text": "【弥富市】現況届の受付が始まりました"},
    {
        "type": "flex",
        "altText": "現況届の受付が始まりました",
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [{"type": "text", "text": "8月31日までに提出してください。"}],
            },
            "footer": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {
                        "type": "button",
                        "action": {
                            "type": "uri",
                            "label": "詳しく見る",
                            "uri": "https://www.example.lg.jp/genkyo",
                        },
                    }
                ],
            },
        },
    },
]
UNIT = "t0123456789abcdef0123456789abc"


def users(count: int) -> list[str]:
    return [simulated_user_id(CHANNEL, i) for i in range(count)]


def line(sandbox: LiveServer, timeout: float = 5) -> LineClient:
    return LineClient(base_url=sandbox.url, access_token=CHANNEL_TOKEN, timeout_seconds=timeout)


def sandbox_post(sandbox: LiveServer, path: str, body: dict[str, Any]) -> None:
    httpx.post(f"{sandbox.url}{path}", json=body, timeout=30).raise_for_status()


def last_multicast(sandbox: LiveServer) -> dict[str, Any]:
    exchanges = httpx.get(f"{sandbox.url}/sandbox/exchanges", timeout=30).json()
    found: dict[str, Any] = [e for e in exchanges if e["path"].endswith("/multicast")][-1]
    return found


@pytest.fixture
def channel(live_sandbox: LiveServer) -> LiveServer:
    sandbox_post(live_sandbox, f"/sandbox/channels/{CHANNEL}/friends", {"count": 500})
    return live_sandbox


async def test_the_prepared_body_is_what_the_sdk_itself_would_send(
    channel: LiveServer, shared_dir: Path
) -> None:
    template = MulticastTemplate(MESSAGES, UNIT)
    async with line(channel) as client:
        outcome = await client.multicast(template.request(users(500)), retry_key=str(uuid.uuid4()))
    assert (outcome.result, outcome.status) == (SendResult.SENT, 200)
    exchange = last_multicast(channel)
    sdk_form = MulticastRequest.from_dict(
        {"to": users(500), "messages": MESSAGES, "customAggregationUnits": [UNIT]}
    ).to_dict()
    assert json.loads(exchange["request_body"]) == sdk_form
    validate_exchange(str(shared_dir / "line-openapi" / "messaging-api.yml"), exchange)


async def test_a_repeated_retry_key_is_a_409_which_counts_as_sent(channel: LiveServer) -> None:
    request = MulticastTemplate(MESSAGES, UNIT).request(users(3))
    key = str(uuid.uuid4())
    async with line(channel) as client:
        first = await client.multicast(request, retry_key=key)
        second = await client.multicast(request, retry_key=key)
    assert (first.result, first.status) == (SendResult.SENT, 200)
    assert (second.result, second.status) == (SendResult.SENT, 409)
    counts = httpx.get(f"{channel.url}/sandbox/channels/{CHANNEL}/counts").json()
    assert (counts["recipients"], counts["duplicates"]) == (3, 0)


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (500, SendResult.RETRY_LATER),
        (503, SendResult.RETRY_LATER),
        (429, SendResult.RETRY_LATER),
        (400, SendResult.FAILED),
        (403, SendResult.FAILED),
    ],
)
async def test_answers_are_classified(channel: LiveServer, status: int, result: SendResult) -> None:
    sandbox_post(
        channel,
        f"/sandbox/channels/{CHANNEL}/faults",
        {"endpoint": "multicast", "status": status, "count": 1},
    )
    async with line(channel) as client:
        outcome = await client.multicast(
            MulticastTemplate(MESSAGES, UNIT).request(users(2)), retry_key=str(uuid.uuid4())
        )
    assert (outcome.result, outcome.status) == (result, status)
    assert outcome.error is not None and str(status) in outcome.error


async def test_no_answer_in_time_is_retried_later(channel: LiveServer) -> None:
    sandbox_post(
        channel,
        f"/sandbox/channels/{CHANNEL}/faults",
        {"endpoint": "multicast", "status": 500, "count": 1, "delay_seconds": 2},
    )
    async with line(channel, timeout=0.3) as client:
        outcome = await client.multicast(
            MulticastTemplate(MESSAGES, UNIT).request(users(2)), retry_key=str(uuid.uuid4())
        )
    assert (outcome.result, outcome.status) == (SendResult.RETRY_LATER, None)
    assert outcome.error is not None and "Timeout" in outcome.error


def test_messages_line_would_refuse_are_refused_before_any_request() -> None:
    with pytest.raises(InvalidMessagesError):
        MulticastTemplate([{"type": "text"}], UNIT)  # no text
    with pytest.raises(InvalidMessagesError):
        MulticastTemplate(MESSAGES * 3, UNIT)  # six messages
    with pytest.raises(InvalidMessagesError):
        MulticastTemplate(MESSAGES, "x" * 31)  # unit too long
    template = MulticastTemplate(MESSAGES, UNIT)
    with pytest.raises(ValueError):
        template.request([])
    with pytest.raises(ValueError):
        template.request(users(501))
