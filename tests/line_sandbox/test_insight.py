"""Insight per aggregation unit (``/v2/bot/insight/message/event/aggregation``), read with the
real line-bot-sdk (``linebot.v3.insight``): simulated opens at a configurable rate, counted
once per resident and unit, ``null`` below 20 as LINE answers, bench channels included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from linebot.v3.insight import ApiException, AsyncApiClient, AsyncInsight, Configuration

from line_sandbox.insight import BUCKETS, bucket_of, store_of, unit_key
from line_sandbox.residents import simulated_user_id
from line_sandbox.store import JST, SandboxState
from tests.line_sandbox.conftest import AUTH, CHANNEL, TOKEN
from tests.line_sandbox.helpers import FakeClock, http, new_key, text
from tests.line_sandbox.openapi_contract import validate_exchange
from tests.line_sandbox.test_bench_mode import BENCH_AUTH, MILLION, NAME, create_bench, send

FRIENDS = 1200
UNIT = "tcampaign_open_1"
# 2026-07-01 10:00 JST
START = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)


def multicast(base: str, indexes: range | list[int], unit: str | None = UNIT) -> None:
    body: dict[str, Any] = {
        "to": [simulated_user_id(CHANNEL, i) for i in indexes],
        "messages": [text("受付開始のお知らせ"), text("詳しくはこちら")],
    }
    if unit is not None:
        body["customAggregationUnits"] = [unit]
    response = http().post(
        f"{base}/v2/bot/message/multicast",
        json=body,
        headers={**AUTH, "X-Line-Retry-Key": new_key()},
    )
    assert response.status_code == 200, response.text


def set_rates(base: str, name: str = CHANNEL, **body: Any) -> dict[str, Any]:
    response = http().put(f"{base}/sandbox/channels/{name}/insight", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def expected(indexes: range, rate: float, seed: str = "todoke", unit: str = UNIT) -> int:
    key = unit_key(seed, unit)
    cut = int(rate * BUCKETS)
    return sum(1 for i in indexes if bucket_of(key, i) < cut)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def base(make_sandbox: Callable[..., str], clock: FakeClock) -> str:
    return make_sandbox(clock=clock, friends=FRIENDS)


@pytest.fixture
async def insight(base: str) -> AsyncIterator[AsyncInsight]:
    async with AsyncApiClient(Configuration(host=base, access_token=TOKEN)) as client:
        yield AsyncInsight(client)


async def test_opens_follow_the_rate_and_count_each_resident_once(
    base: str, insight: AsyncInsight
) -> None:
    multicast(base, range(0, 500))
    multicast(base, range(500, 1000))
    multicast(base, range(0, 500))  # the same residents again: still counted once
    multicast(base, range(1000, 1200), unit="tother_unit")

    result = await insight.get_statistics_per_unit(UNIT, "20260701", "20260701")

    opened = expected(range(1000), 0.6)
    clicked = expected(range(1000), 0.15)
    assert 500 <= opened <= 700 and 100 <= clicked <= 200
    assert result.overview.unique_impression == opened
    assert result.overview.unique_click == clicked
    assert result.overview.unique_media_played is None
    assert [m.seq for m in result.messages] == [1, 2]
    assert result.messages[0].unique_impression == opened

    set_rates(base, open_rate=0.3, click_rate=0.05)  # applies to what was delivered already
    again = await insight.get_statistics_per_unit(UNIT, "20260701", "20260701")
    assert again.overview.unique_impression == expected(range(1000), 0.3)
    assert again.overview.unique_click == expected(range(1000), 0.05)


async def test_days_outside_the_period_are_not_counted(
    base: str, insight: AsyncInsight, clock: FakeClock
) -> None:
    multicast(base, range(0, 400))
    clock.advance(timedelta(days=2).total_seconds())
    multicast(base, range(400, 800))

    first = await insight.get_statistics_per_unit(UNIT, "20260701", "20260702")
    both = await insight.get_statistics_per_unit(UNIT, "20260701", "20260731")
    assert first.overview.unique_impression == expected(range(400), 0.6)
    assert both.overview.unique_impression == expected(range(800), 0.6)


async def test_below_twenty_and_unknown_units_are_null(base: str, insight: AsyncInsight) -> None:
    multicast(base, range(0, 20))
    few = await insight.get_statistics_per_unit(UNIT, "20260701", "20260701")
    assert expected(range(20), 0.6) < 20
    assert few.overview.unique_impression is None and few.overview.unique_click is None

    unknown = await insight.get_statistics_per_unit("tnever_sent", "20260701", "20260701")
    assert unknown.overview.unique_impression is None and unknown.messages == []


async def test_bad_parameters_are_answered_like_line(base: str, insight: AsyncInsight) -> None:
    url = f"{base}/v2/bot/insight/message/event/aggregation"
    cases = [
        {"customAggregationUnit": "bad-unit!", "from": "20260701", "to": "20260701"},
        {"customAggregationUnit": UNIT, "from": "2026-07-01", "to": "20260701"},
        {"customAggregationUnit": UNIT, "from": "20260701", "to": "20260601"},
        {"customAggregationUnit": UNIT, "from": "20260701", "to": "20260901"},
        {"customAggregationUnit": UNIT, "to": "20260701"},
    ]
    for params in cases:
        response = http().get(url, params=params, headers=AUTH)
        assert response.status_code == 400, params
        assert response.json()["message"].startswith("The request parameter has")
    assert http().get(url, params=cases[0]).status_code == 401
    with pytest.raises(ApiException) as caught:
        await insight.get_statistics_per_unit(UNIT, "20260701", "20260815")
    assert caught.value.status == 400


def test_rates_are_validated(base: str) -> None:
    url = f"{base}/sandbox/channels/{CHANNEL}/insight"
    assert http().put(url, json={"open_rate": 1.5}).status_code == 422
    assert http().put(url, json={"open_rate": 0.2, "click_rate": 0.3}).status_code == 422
    assert http().put(f"{base}/sandbox/channels/nope/insight", json={}).status_code == 404
    assert set_rates(base, open_rate=0.5, click_rate=0.1, seed="s2")["seed"] == "s2"


async def test_bench_channels_count_compactly(
    sandbox_with_state: tuple[str, SandboxState],
) -> None:
    base, state = sandbox_with_state
    create_bench(base, MILLION)
    set_rates(base, NAME, open_rate=0.5, click_rate=0.1)
    indexes = [*range(0, 19_500), *range(MILLION - 500, MILLION)]
    for start in range(0, len(indexes), 500):
        response = send(base, indexes[start : start + 500], customAggregationUnits=[UNIT])
        assert response.status_code == 200, response.text
    today = state.clock.now().astimezone(JST).strftime("%Y%m%d")
    answer = http().get(
        f"{base}/v2/bot/insight/message/event/aggregation",
        params={"customAggregationUnit": UNIT, "from": today, "to": today},
        headers=BENCH_AUTH,
    )
    assert answer.status_code == 200, answer.text
    opened = answer.json()["overview"]["uniqueImpression"]
    assert opened == sum(1 for i in indexes if bucket_of(unit_key("todoke", UNIT), i) < 500)
    assert 9_000 <= opened <= 11_000
    # one bit per resident of the channel and one histogram per day: nothing per recipient
    stats = store_of(state).of(state.channels[NAME]).units[UNIT]
    assert len(stats.seen) == MILLION // 8
    assert [len(h) for h in stats.days.values()] == [BUCKETS]


def test_every_insight_exchange_matches_lines_insight_spec(base: str, shared_dir: Path) -> None:
    spec = shared_dir / "line-openapi" / "insight.yml"
    if not spec.is_file():
        pytest.skip(f"{spec} is absent")
    multicast(base, range(0, 100))
    url = f"{base}/v2/bot/insight/message/event/aggregation"
    for params, headers in [
        ({"customAggregationUnit": UNIT, "from": "20260701", "to": "20260701"}, AUTH),
        ({"customAggregationUnit": "tnone", "from": "20260701", "to": "20260701"}, AUTH),
        ({"customAggregationUnit": UNIT, "from": "20260701", "to": "20260601"}, AUTH),
        ({"customAggregationUnit": UNIT, "from": "20260701", "to": "20260701"}, {}),
    ]:
        http().get(url, params=params, headers=headers)
    exchanges = [
        e
        for e in http().get(f"{base}/sandbox/exchanges").json()
        if e["path"].startswith("/v2/bot/insight/")
    ]
    assert [e["status"] for e in exchanges] == [200, 200, 400, 401]
    for exchange in exchanges:
        validate_exchange(spec, exchange)
