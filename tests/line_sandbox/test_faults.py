"""Fault injection: the N-call queue and the random profile (500s, two kinds of timeout, 429
bursts), and what each does to delivery and to the retry key."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from line_sandbox.errors import RATE_LIMITED, SERVER_ERROR
from tests.line_sandbox.conftest import AUTH, CHANNEL
from tests.line_sandbox.helpers import http, inbox, new_key, post, stats, text, user

MULTICAST = "/v2/bot/message/multicast"
ACCEPTED = "The retry key is already accepted"


def faults_url(base: str) -> str:
    return f"{base}/sandbox/channels/{CHANNEL}/faults"


def set_profile(base: str, **profile: Any) -> dict[str, Any]:
    response = http().post(faults_url(base), json=profile)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def read_faults(base: str) -> dict[str, Any]:
    body: dict[str, Any] = http().get(faults_url(base)).json()
    return body


def multicast(base: str, users: list[int], key: str | None = None) -> httpx.Response:
    headers = {} if key is None else {"X-Line-Retry-Key": key}
    return post(base, MULTICAST, {"to": [user(i) for i in users], "messages": [text()]}, **headers)


def statuses(base: str, count: int) -> list[int]:
    return [multicast(base, [0]).status_code for _ in range(count)]


# --- the queue form (kept) ---------------------------------------------------------------


def test_queued_faults_are_listed_used_up_in_order_and_cleared(sandbox_server: str) -> None:
    http().post(
        faults_url(sandbox_server), json={"endpoint": "multicast", "status": 503, "count": 2}
    ).raise_for_status()
    listed = http().post(faults_url(sandbox_server), json={"endpoint": "push", "status": 500})
    assert listed.json() == {
        "faults": [
            {
                "endpoint": "multicast",
                "status": 503,
                "remaining": 2,
                "delay_seconds": 0.0,
                "process": False,
            },
            {
                "endpoint": "push",
                "status": 500,
                "remaining": 1,
                "delay_seconds": 0.0,
                "process": False,
            },
        ]
    }
    assert statuses(sandbox_server, 3) == [503, 503, 200]
    view = read_faults(sandbox_server)
    assert [f["endpoint"] for f in view["faults"]] == ["push"]
    assert view["injected"]["queued"] == 2
    cleared = http().delete(faults_url(sandbox_server)).json()
    assert cleared["faults"] == [] and cleared["profile"] is None
    push = post(sandbox_server, "/v2/bot/message/push", {"to": user(0), "messages": [text()]})
    assert push.status_code == 200


def test_queued_fault_with_a_bad_status_is_422_and_queues_nothing(sandbox_server: str) -> None:
    response = http().post(
        faults_url(sandbox_server), json={"endpoint": "multicast", "status": 200}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_fault"
    assert body["message"].startswith("障害注入のキューが不正です / invalid fault queue: status:")
    assert read_faults(sandbox_server)["faults"] == []


# --- profile validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"error_share": 1.5}, "error_share"),
        ({"error_share": -0.1}, "error_share"),
        ({"timeout_share": 2}, "timeout_share"),
        ({"timeout_accepted_share": 1.01}, "timeout_accepted_share"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"error_share": 0.7, "timeout_share": 0.4}, "(body)"),
        ({"burst_429": {"every": 5, "length": 5}}, "burst_429"),
        ({"burst_429": {"every": 1, "length": 1}}, "burst_429.every"),
        ({"burst_429": {"every": 10}}, "burst_429.length"),
        ({"endpoints": ["multicast", "narrowcast"]}, "endpoints.1"),
        ({"endpoints": []}, "endpoints"),
        ({"seed": -1}, "seed"),
        ({"latency_seconds": -0.1}, "latency_seconds"),
        ({"latency_seconds": 11}, "latency_seconds"),
        ({"error_rate": 0.1}, "error_rate"),
    ],
)
def test_invalid_profile_is_422_naming_the_field_and_changes_nothing(
    sandbox_server: str, profile: dict[str, Any], field: str
) -> None:
    set_profile(sandbox_server, error_share=0.25, seed=3)
    before = read_faults(sandbox_server)
    response = http().post(faults_url(sandbox_server), json=profile)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_fault"
    assert body["message"].startswith("障害注入のプロファイルが不正です / invalid fault profile: ")
    assert field in [d["field"] for d in body["details"]]
    assert read_faults(sandbox_server) == before


def test_shares_summing_over_one_get_a_bilingual_reason(sandbox_server: str) -> None:
    response = http().post(
        faults_url(sandbox_server), json={"error_share": 0.6, "timeout_share": 0.6}
    )
    assert response.json()["details"] == [
        {
            "field": "(body)",
            "message": "error_share と timeout_share の合計は 1 以下にしてください / "
            "error_share + timeout_share must be at most 1",
        }
    ]


def test_profile_defaults_are_shown_and_a_missing_seed_is_chosen_and_reported(
    sandbox_server: str,
) -> None:
    view = set_profile(sandbox_server, error_share=0.1)
    profile = view["profile"]
    assert {k: v for k, v in profile.items() if k != "seed"} == {
        "error_share": 0.1,
        "timeout_share": 0.0,
        "timeout_accepted_share": 0.5,
        "timeout_seconds": 15.0,
        "burst_429": None,
        "endpoints": ["multicast"],
        "latency_seconds": 0.0,
    }
    assert isinstance(profile["seed"], int)
    assert view["injected"] == {
        "queued": 0,
        "error_500": 0,
        "timeout_accepted": 0,
        "timeout_failed": 0,
        "burst_429": 0,
    }


# --- determinism -------------------------------------------------------------------------


def test_same_seed_gives_the_same_faults_and_another_seed_other_ones(sandbox_server: str) -> None:
    set_profile(sandbox_server, error_share=0.4, seed=7)
    first = statuses(sandbox_server, 40)
    counters = read_faults(sandbox_server)
    set_profile(sandbox_server, error_share=0.4, seed=7)  # reinstalling restarts the sequence
    again = statuses(sandbox_server, 40)
    set_profile(sandbox_server, error_share=0.4, seed=8)
    other = statuses(sandbox_server, 40)
    assert first == again
    assert other != first
    assert set(first) == {200, 500}
    assert counters["judged_calls"] == 40
    assert counters["injected"]["error_500"] == first.count(500)


def test_injected_500_has_lines_body_delivers_nothing_and_keeps_the_key(
    sandbox_server: str,
) -> None:
    set_profile(sandbox_server, error_share=1.0, seed=1)
    key = new_key()
    failed = multicast(sandbox_server, [0, 1], key)
    assert (failed.status_code, failed.json()) == (500, {"message": SERVER_ERROR})
    assert inbox(sandbox_server, user(0)) == []
    http().delete(faults_url(sandbox_server)).raise_for_status()
    retried = multicast(sandbox_server, [0, 1], key)
    assert retried.status_code == 200
    assert len(inbox(sandbox_server, user(0))) == 1 and len(inbox(sandbox_server, user(1))) == 1


def test_profile_applies_only_to_its_endpoints(sandbox_server: str) -> None:
    set_profile(sandbox_server, error_share=1.0, seed=1, endpoints=["push"])
    pushed = post(sandbox_server, "/v2/bot/message/push", {"to": user(0), "messages": [text()]})
    assert pushed.status_code == 500
    assert multicast(sandbox_server, [0]).status_code == 200
    assert read_faults(sandbox_server)["judged_calls"] == 1


# --- 429 bursts --------------------------------------------------------------------------


def test_burst_of_429_opens_every_cycle_and_those_calls_deliver_nothing(
    sandbox_server: str,
) -> None:
    set_profile(sandbox_server, burst_429={"every": 5, "length": 2}, seed=1)
    responses = [multicast(sandbox_server, [0]) for _ in range(12)]
    assert [r.status_code for r in responses] == [
        429, 429, 200, 200, 200,
        429, 429, 200, 200, 200,
        429, 429,
    ]  # fmt: skip
    assert responses[0].json() == {"message": RATE_LIMITED}
    assert stats(sandbox_server)["delivered_recipients"] == 6
    assert read_faults(sandbox_server)["injected"]["burst_429"] == 6


# --- timeouts ----------------------------------------------------------------------------


def test_accepted_then_slow_delivers_consumes_the_key_and_a_retry_gets_409(
    sandbox_server: str,
) -> None:
    set_profile(
        sandbox_server, timeout_share=1.0, timeout_accepted_share=1.0, timeout_seconds=1.5, seed=1
    )
    key = new_key()
    body = {"to": [user(0)], "messages": [text()]}
    with pytest.raises(httpx.ReadTimeout):
        http().post(
            f"{sandbox_server}{MULTICAST}",
            json=body,
            headers={**AUTH, "X-Line-Retry-Key": key},
            timeout=0.3,
        )
    http().delete(faults_url(sandbox_server)).raise_for_status()
    retried = post(sandbox_server, MULTICAST, body, **{"X-Line-Retry-Key": key})
    assert (retried.status_code, retried.json()) == (409, {"message": ACCEPTED})
    assert retried.headers["x-line-accepted-request-id"]
    delivered = inbox(sandbox_server, user(0))
    assert len(delivered) == 1 and delivered[0]["retry_key"] == key


def test_slow_then_failed_delivers_nothing_even_after_its_late_answer(sandbox_server: str) -> None:
    set_profile(
        sandbox_server, timeout_share=1.0, timeout_accepted_share=0.0, timeout_seconds=0.8, seed=1
    )
    key = new_key()
    body = {"to": [user(0)], "messages": [text()]}
    late: list[int] = []

    def slow_call() -> None:  # waits for the late answer, as a patient client would
        response = httpx.post(
            f"{sandbox_server}{MULTICAST}",
            json=body,
            headers={**AUTH, "X-Line-Retry-Key": key},
            timeout=10,
        )
        late.append(response.status_code)

    started = time.monotonic()
    waiting = threading.Thread(target=slow_call)
    waiting.start()
    time.sleep(0.2)
    assert inbox(sandbox_server, user(0)) == []
    waiting.join()
    assert late == [500] and time.monotonic() - started >= 0.8
    assert inbox(sandbox_server, user(0)) == []
    assert read_faults(sandbox_server)["injected"]["timeout_failed"] == 1
    http().delete(faults_url(sandbox_server)).raise_for_status()
    assert post(sandbox_server, MULTICAST, body, **{"X-Line-Retry-Key": key}).status_code == 200
    assert len(inbox(sandbox_server, user(0))) == 1


def test_accepted_then_slow_answers_its_real_200_late(sandbox_server: str) -> None:
    set_profile(
        sandbox_server, timeout_share=1.0, timeout_accepted_share=1.0, timeout_seconds=0.5, seed=1
    )
    started = time.monotonic()
    response = multicast(sandbox_server, [2])
    assert (response.status_code, response.json()) == (200, {})
    assert time.monotonic() - started >= 0.5
    assert len(inbox(sandbox_server, user(2))) == 1
    assert read_faults(sandbox_server)["injected"]["timeout_accepted"] == 1


def test_timeout_kinds_split_by_the_accepted_share(sandbox_server: str) -> None:
    set_profile(
        sandbox_server, timeout_share=1.0, timeout_accepted_share=0.5, timeout_seconds=0.05, seed=5
    )
    results = [multicast(sandbox_server, [3]).status_code for _ in range(30)]
    injected = read_faults(sandbox_server)["injected"]
    assert injected["timeout_accepted"] + injected["timeout_failed"] == 30
    assert injected["timeout_accepted"] > 0 and injected["timeout_failed"] > 0
    assert results.count(200) == injected["timeout_accepted"]
    assert len(inbox(sandbox_server, user(3))) == injected["timeout_accepted"]


def test_latency_delays_normal_answers_of_its_endpoints_only_and_is_not_a_fault(
    sandbox_server: str,
) -> None:
    set_profile(sandbox_server, latency_seconds=0.3, endpoints=["multicast"], seed=1)
    started = time.monotonic()
    response = multicast(sandbox_server, [4])
    assert (response.status_code, response.json()) == (200, {})
    assert time.monotonic() - started >= 0.3
    assert len(inbox(sandbox_server, user(4))) == 1
    assert set(read_faults(sandbox_server)["injected"].values()) == {0}
    set_profile(sandbox_server, latency_seconds=0.3, endpoints=["push"], seed=1)
    started = time.monotonic()
    assert multicast(sandbox_server, [4]).status_code == 200
    assert time.monotonic() - started < 0.3
