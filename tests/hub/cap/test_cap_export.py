"""CAP 1.2 export of stored notices: the mapping field by field, well-formed XML in the
schema's element order, safe with any text, 404 for anything unknown."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from hub.cap.render import CAP_NS, cap_time
from hub.state import HubState
from tests.hub.helpers import PREF_KEY, PREF_KID, HubApi, follow_up, make_notice, signed

NS = {"cap": CAP_NS}

# CAP 1.2 §3.2 (and its XML schema): the order of the elements of alert, info and area
ALERT_ORDER = [
    "identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction",
    "addresses", "code", "note", "references", "incidents", "info",
]  # fmt: skip
INFO_ORDER = [
    "language", "category", "event", "responseType", "urgency", "severity", "certainty",
    "audience", "eventCode", "effective", "onset", "expires", "senderName", "headline",
    "description", "instruction", "web", "contact", "parameter", "resource", "area",
]  # fmt: skip
AREA_ORDER = ["areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"]
REQUIRED_ALERT = ["identifier", "sender", "sent", "status", "msgType", "scope"]
REQUIRED_INFO = ["category", "event", "urgency", "severity", "certainty"]
CAP_TIME = r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d"


def local(element: ET.Element) -> str:
    namespace, _, name = element.tag[1:].partition("}")
    assert namespace == CAP_NS, element.tag
    return name


def assert_in_schema_order(element: ET.Element, order: list[str]) -> None:
    names = [local(child) for child in element]
    assert all(name in order for name in names), names
    positions = [order.index(name) for name in names]
    assert positions == sorted(positions), names


def text(element: ET.Element, path: str) -> str:
    found = element.find(path, NS)
    assert found is not None, path
    return found.text or ""


async def cap(api: HubApi, publisher: str, notice_id: str) -> tuple[ET.Element, bytes]:
    response = await api.http.get(f"/notices/{publisher}/{notice_id}/cap.xml")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    assert response.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(response.content)  # noqa: S314 - our own output, parsed to check it
    assert root.tag == f"{{{CAP_NS}}}alert"
    assert_in_schema_order(root, ALERT_ORDER)
    for name in REQUIRED_ALERT:
        assert root.find(f"cap:{name}", NS) is not None, name
    infos = root.findall("cap:info", NS)
    assert len(infos) == 1
    assert_in_schema_order(infos[0], INFO_ORDER)
    for name in REQUIRED_INFO:
        assert infos[0].find(f"cap:{name}", NS) is not None, name
    for area in infos[0].findall("cap:area", NS):
        assert_in_schema_order(area, AREA_ORDER)
    for element in root.iter():
        if local(element) in {"sent", "effective", "expires", "onset"}:
            assert re.fullmatch(CAP_TIME, element.text or ""), element.text
    return root, response.content


async def test_alert_maps_field_by_field(api: HubApi, registered: HubState) -> None:
    notice = make_notice(
        sent="2026-03-31T23:55:00Z",
        effective="2026-04-01T09:00:00+09:00",
        expires="2026-06-30T15:00:00Z",
        action={
            "how_to_apply": "市役所の窓口で申請してください。",
            "url": "https://www.cfa.go.jp/policies/hitori-oya?a=1&b=2",
        },
    )
    accepted = await api.publish(signed(notice))
    assert accepted["__typename"] == "PublishAccepted"
    root, _ = await cap(api, "gov-cfa", notice["notice_id"])

    assert text(root, "cap:identifier") == f"aichi:gov-cfa:{notice['notice_id']}"
    assert text(root, "cap:sender") == "gov-cfa@aichi"
    assert text(root, "cap:sent") == "2026-03-31T23:55:00-00:00"
    assert text(root, "cap:status") == "Actual"
    assert text(root, "cap:msgType") == "Alert"
    assert text(root, "cap:scope") == "Public"
    assert root.find("cap:references", NS) is None
    assert root.find("cap:note", NS) is None
    info = root.find("cap:info", NS)
    assert info is not None
    assert text(info, "cap:language") == "ja-JP"
    assert [c.text for c in info.findall("cap:category", NS)] == ["Other"]
    assert text(info, "cap:event") == "児童扶養手当"
    assert (text(info, "cap:urgency"), text(info, "cap:severity"), text(info, "cap:certainty")) == (
        "Future",
        "Minor",
        "Observed",
    )
    assert text(info, "cap:eventCode/cap:valueName") == "todoke:program"
    assert text(info, "cap:eventCode/cap:value") == "jido-fuyo-teate"
    assert text(info, "cap:effective") == "2026-04-01T09:00:00+09:00"
    assert text(info, "cap:expires") == "2026-06-30T15:00:00-00:00"
    assert text(info, "cap:senderName") == "こども家庭庁"
    assert text(info, "cap:headline") == notice["content"]["ja"]["headline"]
    assert text(info, "cap:description") == notice["content"]["ja"]["body"]
    assert text(info, "cap:instruction") == "市役所の窓口で申請してください。"
    assert text(info, "cap:web") == "https://www.cfa.go.jp/policies/hitori-oya?a=1&b=2"
    [area] = info.findall("cap:area", NS)
    assert text(area, "cap:areaDesc") == "全国"
    geocodes = [
        (text(g, "cap:valueName"), text(g, "cap:value")) for g in area.findall("cap:geocode", NS)
    ]
    assert geocodes == [("JIS X 0402", "00")]


async def test_update_and_cancel_carry_references_and_reason(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice(publisher="pref-23", area=["23", "23235"], status="Exercise")
    alert_env = signed(alert, kid=PREF_KID, key=PREF_KEY)
    assert (await api.publish(alert_env))["__typename"] == "PublishAccepted"
    update = follow_up(
        alert, alert_env, area=alert["area"], status="Exercise", sent="2026-03-31T23:58:00+09:00"
    )
    update_env = signed(update, kid=PREF_KID, key=PREF_KEY)
    result = await api.publish(update_env)
    assert result["__typename"] == "PublishAccepted", result
    cancel = follow_up(update, update_env, msg_type="Cancel", area=alert["area"], status="Exercise")
    assert (await api.publish(signed(cancel, kid=PREF_KID, key=PREF_KEY)))["seq"] == 3

    root, _ = await cap(api, "pref-23", update["notice_id"])
    assert text(root, "cap:msgType") == "Update"
    assert text(root, "cap:status") == "Exercise"
    assert text(root, "cap:references") == (
        f"pref-23@aichi,aichi:pref-23:{alert['notice_id']},2026-03-31T23:55:00-00:00"
    )
    info = root.find("cap:info", NS)
    assert info is not None
    assert text(info, "cap:senderName") == "愛知県"
    [area] = info.findall("cap:area", NS)
    assert text(area, "cap:areaDesc") == "愛知県、23235"
    assert [text(g, "cap:value") for g in area.findall("cap:geocode", NS)] == ["23", "23235"]

    root, _ = await cap(api, "pref-23", cancel["notice_id"])
    assert text(root, "cap:msgType") == "Cancel"
    assert text(root, "cap:note") == "制度変更のため取り消します"
    assert text(root, "cap:references") == (
        f"pref-23@aichi,aichi:pref-23:{update['notice_id']},2026-03-31T23:58:00+09:00"
    )


@pytest.mark.parametrize(
    "headline",
    [
        '</headline><script>alert("x")</script>',
        "A & B < C > D ]]> \"quoted\" 'single'",
        "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>&e;",
        "制御文字\u0001\u0008と絵文字🌸",
    ],
)
async def test_any_text_stays_text(api: HubApi, registered: HubState, headline: str) -> None:
    notice = make_notice(content={"ja": {"headline": headline, "body": headline}})
    accepted = await api.publish(signed(notice))
    assert accepted["__typename"] == "PublishAccepted", accepted
    root, raw = await cap(api, "gov-cfa", notice["notice_id"])
    info = root.find("cap:info", NS)
    assert info is not None
    expected = headline.replace("\u0001", "\ufffd").replace("\u0008", "\ufffd")
    assert text(info, "cap:headline") == expected
    assert text(info, "cap:description") == expected
    assert b"<script>" not in raw
    assert b"<!DOCTYPE" not in raw


@pytest.mark.parametrize(
    "path",
    [
        "/notices/gov-cfa/01JQ0000000000000000000000/cap.xml",  # well-formed, not stored
        "/notices/gov-xyz/01JQ0000000000000000000000/cap.xml",
        "/notices/not-a-publisher/01JQ0000000000000000000000/cap.xml",
        "/notices/gov-cfa/not-a-ulid/cap.xml",
        "/notices/gov-cfa/%00%ff%fe/cap.xml",
        "/notices/%27%3B--/%3Cx%3E/cap.xml",
        "/notices/gov-cfa/" + "A" * 5000 + "/cap.xml",
        "/notices/gov-cfa/01JQ0000000000000000000000%2F..%2F/cap.xml",
    ],
)
async def test_unknown_or_malformed_ids_are_404(
    api: HubApi, registered: HubState, path: str
) -> None:
    response = await api.http.get(path)
    assert response.status_code == 404, response.text
    body: dict[str, Any] = response.json()
    [error] = body["errors"]  # the hub's error shape; the router's own 404 says "Not Found"
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "no such notice" in error["message"] or error["message"] == "Not Found"


async def test_other_publishers_id_is_404(api: HubApi, registered: HubState) -> None:
    notice = make_notice()
    await api.publish(signed(notice))
    response = await api.http.get(f"/notices/pref-23/{notice['notice_id']}/cap.xml")
    assert response.status_code == 404
    assert "no such notice" in response.json()["errors"][0]["message"]


def test_cap_time_formats() -> None:
    assert (
        cap_time(datetime(2026, 4, 1, 0, 0, 0, 123456, tzinfo=UTC)) == "2026-04-01T00:00:00-00:00"
    )
    jst = timezone(timedelta(hours=9))
    assert cap_time(datetime(2026, 4, 1, 9, 0, tzinfo=jst)) == "2026-04-01T09:00:00+09:00"
    nst = timezone(-timedelta(hours=3, minutes=30))
    assert cap_time(datetime(2026, 4, 1, 9, 0, tzinfo=nst)) == "2026-04-01T09:00:00-03:30"
    with pytest.raises(ValueError, match="offset"):
        cap_time(datetime(2026, 4, 1))  # noqa: DTZ001 - the naive case is the point
