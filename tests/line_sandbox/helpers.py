"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from line_sandbox.residents import simulated_user_id
from tests.line_sandbox.conftest import AUTH, CHANNEL


@functools.cache
def http() -> httpx.Client:
    """One keep-alive client for all tests (``httpx.get`` & co. build an SSL context each call,
    ~40 ms; servers differ by port, so connections never cross tests)."""
    return httpx.Client(timeout=30)


def user(index: int) -> str:
    return simulated_user_id(CHANNEL, index)


def text(value: str = "こんにちは") -> dict[str, Any]:
    return {"type": "text", "text": value}


def post(base: str, path: str, body: Any, **headers: str) -> httpx.Response:
    return http().post(f"{base}{path}", json=body, headers={**AUTH, **headers})


def inbox(base: str, user_id: str) -> list[dict[str, Any]]:
    response = http().get(f"{base}/sandbox/channels/{CHANNEL}/inbox", params={"user_id": user_id})
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def stats(base: str) -> dict[str, Any]:
    response = http().get(f"{base}/sandbox/channels/{CHANNEL}/stats")
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def new_key() -> str:
    return str(uuid.uuid4())


class FakeClock:
    """A clock the test moves by hand (the sandbox reads it from another thread)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
        self.seconds = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.current += timedelta(seconds=seconds)
