"""The LIFF application page and ``POST /liff/{code}/campaigns/{id}/applications`` against the
REAL sandbox's LINE Login (ID tokens verified by ``POST /oauth2/v2.1/verify``)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from municipal_node.applications.models import Application
from municipal_node.applications.service import receipt_aad
from municipal_node.audit.models import AuditEntry
from municipal_node.clock import FixedClock
from municipal_node.db.engine import unit_of_work
from municipal_node.tenants.models import Tenant
from tests.municipal_node.applications.conftest import (
    GOOD_ANSWERS,
    LIFF_ID,
    LiffSetup,
    add_campaign,
    uid,
)
from tests.municipal_node.helpers import NOW, TENANT

ORIGIN = "https://todoke.example.lg.jp"


def url(campaign_id: int, code: str = TENANT) -> str:
    return f"/liff/{code}/campaigns/{campaign_id}/applications"


async def post(
    client: httpx.AsyncClient, campaign_id: int, body: Any, *, code: str = TENANT, **headers: str
) -> httpx.Response:
    return await client.post(
        url(campaign_id, code),
        content=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "Origin": ORIGIN, **headers},
    )


async def count_rows(liff: LiffSetup) -> int:
    async with liff.node.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Application)) or 0)


async def test_page_is_japanese_mobile_and_loads_the_liff_sdk(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    response = await node_http.get(f"/liff/{TENANT}/campaigns/{liff.campaign_id}")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="ja">' in html
    assert 'name="viewport"' in html
    assert "児童扶養手当 現況届" in html
    assert "https://static.line-scdn.net/liff/edge/2/sdk.js" in html
    assert LIFF_ID in html
    assert "申請する" in html and "振込先の変更" in html and "必須" in html
    assert "Content-Security-Policy" in html
    assert response.headers["cache-control"] == "no-store"


async def test_page_escapes_staff_text(liff: LiffSetup, node_http: httpx.AsyncClient) -> None:
    campaign = await add_campaign(
        liff.node,
        notice_id="01JCAMPAIGN000000000000009",
        title="<script>alert(1)</script>給付",
        form=[{"name": "x", "label": "</script><b>", "type": "text"}],
    )
    html = (await node_http.get(f"/liff/{TENANT}/campaigns/{campaign}")).text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;給付" in html
    assert "</script><b>" not in html


async def test_page_of_unknown_or_foreign_campaign_is_404(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    for path in (
        f"/liff/{TENANT}/campaigns/{liff.other_campaign_id}",
        f"/liff/{TENANT}/campaigns/999",
        f"/liff/{TENANT}/campaigns/abc",
        f"/liff/99999/campaigns/{liff.campaign_id}",
    ):
        response = await node_http.get(path)
        assert response.status_code == 404, path
        assert "見つかりません" in response.text


async def test_apply_records_once_and_returns_the_same_receipt(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    token = await liff.id_token(3)
    first = await post(node_http, liff.campaign_id, {"id_token": token, "answers": GOOD_ANSWERS})
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert receipt["created"] is True
    assert len(receipt["receipt_no"]) == 9 and receipt["receipt_no"][4] == "-"
    assert receipt["applied_at"] == NOW.isoformat()
    again = await post(
        node_http,
        liff.campaign_id,
        {"id_token": await liff.id_token(3), "answers": {"kouza": "変更あり", "consent": True}},
    )
    assert again.status_code == 200, again.text
    assert again.json()["receipt_no"] == receipt["receipt_no"]
    assert again.json()["created"] is False
    async with liff.node.sessions() as session:
        rows = list(await session.scalars(select(Application)))
        audits = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "applications.apply")
            )
        )
    assert len(rows) == 1
    row = rows[0]
    assert (row.line_user_id, row.resident_id, row.channel) == (uid(3), None, "online")
    assert row.answers_sealed is not None and "平日".encode() not in row.answers_sealed
    opened = liff.node.sealer.open_text(
        row.answers_sealed, aad=receipt_aad(TENANT, liff.campaign_id, row.receipt_no)
    )
    assert json.loads(opened) == GOOD_ANSWERS
    assert [(a.actor, a.count) for a in audits] == [("liff-resident", 1)]
    assert uid(3) not in json.dumps([a.detail for a in audits])


async def test_linked_resident_gets_their_record_on_the_application(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    token = await liff.id_token(1)
    response = await post(node_http, liff.campaign_id, {"id_token": token, "answers": GOOD_ANSWERS})
    assert response.status_code == 201, response.text
    async with liff.node.sessions() as session:
        row = await session.scalar(select(Application))
    assert row is not None and (row.line_user_id, row.resident_id) == (uid(1), "R001")


async def test_forged_expired_or_foreign_tokens_are_401_and_record_nothing(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    good = await liff.id_token(4)
    head, body, signature = good.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"
    expired = await liff.id_token(4, expires_in=-10)
    other_channel = await liff.id_token(4, liff_id=None, login_channel_id="1999999999")
    cases = [
        (forged, "INVALID_ID_TOKEN"),
        ("garbage", "INVALID_ID_TOKEN"),
        (expired, "ID_TOKEN_EXPIRED"),
        (other_channel, "INVALID_ID_TOKEN"),
    ]
    for token, code in cases:
        response = await post(
            node_http, liff.campaign_id, {"id_token": token, "answers": GOOD_ANSWERS}
        )
        assert response.status_code == 401, response.text
        assert response.json()["code"] == code
        assert "LINE" in response.json()["message"]
    assert await count_rows(liff) == 0


async def test_csrf_rules_form_posts_and_foreign_origins_are_refused(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    token = await liff.id_token(5)
    form = await node_http.post(
        url(liff.campaign_id),
        data={"id_token": token},
        headers={"Origin": ORIGIN},
    )
    assert form.status_code == 415
    assert form.json()["code"] == "JSON_REQUIRED"
    foreign = await post(
        node_http,
        liff.campaign_id,
        {"id_token": token, "answers": GOOD_ANSWERS},
        Origin="https://evil.example",
    )
    assert foreign.status_code == 403
    assert foreign.json()["code"] == "BAD_ORIGIN"
    missing = await post(node_http, liff.campaign_id, {"answers": GOOD_ANSWERS})
    assert missing.status_code == 422
    assert missing.json()["code"] == "BAD_REQUEST"
    assert await count_rows(liff) == 0


async def test_outside_the_window_is_refused_in_japanese(
    liff: LiffSetup, node_http: httpx.AsyncClient, clock: FixedClock
) -> None:
    clock.set(NOW - timedelta(days=2))
    early = await post(
        node_http, liff.campaign_id, {"id_token": await liff.id_token(6), "answers": GOOD_ANSWERS}
    )
    assert early.status_code == 409
    assert early.json()["code"] == "NOT_OPEN_YET"
    assert early.json()["message"].startswith("受付は 2026年3月31日(火) 09:00 からです")
    page = await node_http.get(f"/liff/{TENANT}/campaigns/{liff.campaign_id}")
    assert "受付開始後" in page.text and "申請する" not in page.text
    clock.set(NOW + timedelta(days=30))
    late = await post(
        node_http, liff.campaign_id, {"id_token": await liff.id_token(6), "answers": GOOD_ANSWERS}
    )
    assert late.status_code == 409
    assert late.json()["code"] == "CLOSED"
    assert "終了しました" in late.json()["message"]
    assert await count_rows(liff) == 0


async def test_bad_answers_name_every_field(liff: LiffSetup, node_http: httpx.AsyncClient) -> None:
    response = await post(
        node_http,
        liff.campaign_id,
        {
            "id_token": await liff.id_token(7),
            "answers": {"kouza": "わからない", "memo": "x" * 2001, "extra": 1},
        },
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "INVALID_ANSWERS"
    fields = sorted(error["field"] for error in body["errors"])
    assert fields == ["answers.consent", "answers.extra", "answers.kouza", "answers.memo"]
    assert all(" / " in error["message"] for error in body["errors"])
    assert await count_rows(liff) == 0


async def test_another_tenants_campaign_is_404(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    body = {"id_token": await liff.id_token(8), "answers": GOOD_ANSWERS}
    response = await post(node_http, liff.other_campaign_id, body)
    assert response.status_code == 404
    assert response.json()["code"] == "UNKNOWN_CAMPAIGN"
    assert await count_rows(liff) == 0


async def test_two_simultaneous_applications_of_one_person_make_one_row(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    tokens = [await liff.id_token(9) for _ in range(4)]
    responses = await asyncio.gather(
        *(
            post(node_http, liff.campaign_id, {"id_token": token, "answers": GOOD_ANSWERS})
            for token in tokens
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201], [
        r.text for r in responses
    ]
    assert len({r.json()["receipt_no"] for r in responses}) == 1
    assert await count_rows(liff) == 1


async def test_line_unreachable_is_a_clear_503_not_a_500(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    token = await liff.id_token(4)
    async with unit_of_work(liff.node.sessions) as session:
        await session.execute(
            update(Tenant)
            .where(Tenant.code == TENANT)
            .values(line_api_base_url="http://127.0.0.1:9")
        )
    response = await post(node_http, liff.campaign_id, {"id_token": token, "answers": GOOD_ANSWERS})
    assert response.status_code == 503
    assert response.json()["code"] == "LINE_UNAVAILABLE"
    assert response.json()["message"].startswith("LINE に接続できませんでした")
    assert await count_rows(liff) == 0


async def test_page_says_when_the_form_is_not_available(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    cancelled = await add_campaign(
        liff.node, notice_id="01JCAMPAIGN000000000000003", state="cancelled"
    )
    response = await node_http.get(f"/liff/{TENANT}/campaigns/{cancelled}")
    assert response.status_code == 410 and "中止されました" in response.text
    refused = await post(
        node_http, cancelled, {"id_token": await liff.id_token(4), "answers": GOOD_ANSWERS}
    )
    assert refused.status_code == 410 and refused.json()["code"] == "CAMPAIGN_CANCELLED"
    async with unit_of_work(liff.node.sessions) as session:
        await session.execute(
            update(Tenant).where(Tenant.code == TENANT).values(liff_id=None, login_channel_id=None)
        )
    response = await node_http.get(f"/liff/{TENANT}/campaigns/{liff.campaign_id}")
    assert response.status_code == 503 and "窓口または郵送" in response.text
    refused = await post(
        node_http, liff.campaign_id, {"id_token": await liff.id_token(4), "answers": GOOD_ANSWERS}
    )
    assert refused.status_code == 503 and refused.json()["code"] == "LIFF_NOT_CONFIGURED"
    assert await count_rows(liff) == 0
