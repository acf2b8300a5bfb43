"""``deliveryReports`` totals over several municipalities, and the rate limit of
``submitReport``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from hub.app import create_app
from hub.settings import HubSettings
from hub.state import HubState
from tests.hub.conftest import register
from tests.hub.helpers import FixedClock, HubApi, bearer, cfa_key, make_notice, signed
from tests.hub.stats.conftest import register_node
from tests.hub.stats.helpers import (
    NAGOYA,
    NAGOYA_KEY,
    NAGOYA_KID,
    YATOMI,
    YATOMI_KEY,
    counts,
    report_payload,
    sign_report,
    submit,
    view,
)


async def test_a_total_over_a_withheld_cell_is_partial_and_says_so(
    yatomi: HubApi, nagoya: HubApi, public: HubApi, notice_id: str
) -> None:
    yatomi_raw = counts(targeted=120, sent=100, failed=10, blocked=10, opened=40)
    # 名古屋市: failed 3 and blocked 2 are withheld (1..9); together they are still ambiguous.
    nagoya_raw = counts(targeted=1000, sent=995, failed=3, blocked=2, opened=500)
    for api, municipality, raw, key, kid in (
        (yatomi, YATOMI, yatomi_raw, YATOMI_KEY, "muni-23235/report1"),
        (nagoya, NAGOYA, nagoya_raw, NAGOYA_KEY, NAGOYA_KID),
    ):
        payload = report_payload(
            municipality=municipality, publisher="gov-cfa", notice_id=notice_id, raw=raw
        )
        result = await submit(api, sign_report(payload, key=key, kid=kid))
        assert result["outcome"] == "STORED", result

    [phase] = (await view(public, "gov-cfa", notice_id))["phases"]
    rows = {row["municipality"]: row for row in phase["municipalities"]}
    assert rows[NAGOYA]["counts"]["failed"] is None and rows[NAGOYA]["counts"]["blocked"] is None
    assert rows[NAGOYA]["suppressed"] == ["failed", "blocked"]
    totals = phase["totals"]
    assert totals["municipalities"] == 2
    assert totals["targeted"] == {"value": 1120, "complete": True, "withheld": 0}
    assert totals["sent"] == {"value": 1095, "complete": True, "withheld": 0}
    # Only 弥富市's published failed/blocked are summed, and the totals say one is missing.
    assert totals["failed"] == {"value": 10, "complete": False, "withheld": 1}
    assert totals["blocked"] == {"value": 10, "complete": False, "withheld": 1}
    assert totals["opened"] == {"value": 540, "complete": True, "withheld": 0}
    assert totals["applied"] == {"value": 0, "complete": True, "withheld": 0}


async def test_a_count_nobody_published_has_no_total(
    yatomi: HubApi, public: HubApi, notice_id: str
) -> None:
    raw = counts(targeted=120, sent=100, failed=10, blocked=10, opened=40, clicked=4)
    payload = report_payload(municipality=YATOMI, publisher="gov-cfa", notice_id=notice_id, raw=raw)
    assert (await submit(yatomi, sign_report(payload)))["outcome"] == "STORED"
    [phase] = (await view(public, "gov-cfa", notice_id))["phases"]
    assert phase["totals"]["clicked"] == {"value": None, "complete": False, "withheld": 1}


async def test_a_large_count_is_served_beyond_32_bits(
    yatomi: HubApi, public: HubApi, notice_id: str
) -> None:
    big = 3_000_000_000
    raw = counts(targeted=big, sent=big)
    payload = report_payload(municipality=YATOMI, publisher="gov-cfa", notice_id=notice_id, raw=raw)
    assert (await submit(yatomi, sign_report(payload)))["outcome"] == "STORED"
    [phase] = (await view(public, "gov-cfa", notice_id))["phases"]
    assert phase["municipalities"][0]["counts"]["targeted"] == big
    assert phase["totals"]["sent"]["value"] == big


@pytest.fixture
async def limited_app(settings: HubSettings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """The hub with a write budget of 2 and a stopped ticker (no refill)."""
    limited = settings.model_copy(
        update={"rate_publish_burst": 2, "rate_publish_per_second": 0.001}
    )
    application = create_app(limited, clock=clock, ticker=lambda: 0.0)
    async with application.router.lifespan_context(application):
        yield application


async def test_report_submissions_are_rate_limited_per_credential(
    limited_app: FastAPI,
) -> None:
    state: HubState = limited_app.state.hub
    await register(state, cfa_key())
    yatomi_credential = await register_node(state, YATOMI, "弥富市", YATOMI_KEY)
    nagoya_credential = await register_node(state, NAGOYA, "名古屋市", NAGOYA_KEY)
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        notice = make_notice()
        body = await HubApi(http).graphql(
            "mutation($e: SignedEnvelopeInput!) { publishNotice(envelope: $e) { __typename } }",
            {"e": signed(notice).model_dump()},
        )
        assert body["data"]["publishNotice"]["__typename"] == "PublishAccepted"
        payload = report_payload(
            municipality=YATOMI, publisher="gov-cfa", notice_id=notice["notice_id"]
        )
        envelope = sign_report(payload)
        yatomi = HubApi(http)
        outcomes = [
            (await submit(yatomi, envelope, headers=bearer(yatomi_credential))).get("outcome")
            for _ in range(2)
        ]
        assert outcomes == ["STORED", "DUPLICATE"]
        response = await http.post(
            "/graphql",
            json={
                "query": "mutation($e: SignedEnvelopeInput!) { submitReport(envelope: $e) "
                "{ ... on ReportRejected { code message } } }",
                "variables": {"e": envelope.model_dump()},
            },
            headers=bearer(yatomi_credential),
        )
        assert response.json()["data"]["submitReport"]["code"] == "RATE_LIMITED"
        assert response.headers["Retry-After"].isdigit()
        # Another tenant has its own budget.
        other = report_payload(
            municipality=NAGOYA, publisher="gov-cfa", notice_id=notice["notice_id"]
        )
        result = await submit(
            HubApi(http),
            sign_report(other, key=NAGOYA_KEY, kid=NAGOYA_KID),
            headers=bearer(nagoya_credential),
        )
        assert result["outcome"] == "STORED", result
