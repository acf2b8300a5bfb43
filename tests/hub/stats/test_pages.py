"""The public report pages: Japanese, withheld cells shown as 秘匿, partial totals marked."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.hub.helpers import HubApi, make_notice, signed
from tests.hub.stats.helpers import (
    NAGOYA,
    NAGOYA_KEY,
    NAGOYA_KID,
    YATOMI,
    counts,
    report_payload,
    sign_report,
    submit,
)


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        return await http.get(path)


async def test_the_notice_page_shows_cells_withheld_cells_and_partial_totals(
    app: FastAPI, yatomi: HubApi, nagoya: HubApi, public: HubApi
) -> None:
    notice = make_notice(
        content={"ja": {"headline": "入学準備金 <受付中>", "body": "申請してください。"}}
    )
    assert (await public.publish(signed(notice)))["__typename"] == "PublishAccepted"
    notice_id = notice["notice_id"]
    yatomi_report = report_payload(
        municipality=YATOMI,
        publisher="gov-cfa",
        notice_id=notice_id,
        raw=counts(targeted=1200, sent=1100, failed=50, blocked=50, opened=700, clicked=300),
    )
    assert (await submit(yatomi, sign_report(yatomi_report)))["outcome"] == "STORED"
    reminder = {**yatomi_report, "phase": "reminder"}
    assert (await submit(yatomi, sign_report(reminder)))["outcome"] == "STORED"
    nagoya_report = report_payload(
        municipality=NAGOYA,
        publisher="gov-cfa",
        notice_id=notice_id,
        raw=counts(targeted=1000, sent=995, failed=3, blocked=2, opened=500, applied=40),
    )
    signed_report = sign_report(nagoya_report, key=NAGOYA_KEY, kid=NAGOYA_KID)
    assert (await submit(nagoya, signed_report))["outcome"] == "STORED"

    response = await get(app, f"/reports/gov-cfa/{notice_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "入学準備金 &lt;受付中&gt;" in page and "<受付中>" not in page
    assert "受付開始（open）" in page and "締切前リマインド（reminder）" in page
    assert "弥富市（23235）" in page and "名古屋市（23100）" in page
    assert "1,100" in page and "秘匿" in page
    assert "<td>50＊</td>" in page  # failed and blocked totals of the open phase are partial
    assert "公表値だけの合計" in page

    index = await get(app, "/reports")
    assert index.status_code == 200
    assert f'href="/reports/gov-cfa/{notice_id}"' in index.text
    assert "入学準備金 &lt;受付中&gt;" in index.text


async def test_unknown_or_malformed_notices_are_a_404_page(app: FastAPI, notice_id: str) -> None:
    from tests.hub.helpers import new_ulid

    for path in (f"/reports/gov-cfa/{new_ulid()}", "/reports/nobody/x", "/reports/gov-cfa/%00"):
        response = await get(app, path)
        assert response.status_code == 404, path
        assert "お知らせが見つかりません" in response.text
    empty = await get(app, f"/reports/gov-cfa/{notice_id}")
    assert empty.status_code == 200 and "まだ報告はありません" in empty.text
    assert "まだ報告はありません" in (await get(app, "/reports")).text
