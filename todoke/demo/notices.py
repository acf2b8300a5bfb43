"""The two notices the demo publishes: a national one and a prefectural one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from ulid import ULID

JST = timezone(timedelta(hours=9))


def _time(moment: datetime) -> str:
    return moment.astimezone(JST).isoformat(timespec="seconds")


def genkyo_todoke_notice(now: datetime) -> dict[str, Any]:
    """こども家庭庁 (gov-cfa): 児童扶養手当 現況届, for single-parent households, nationwide."""
    year = now.astimezone(JST).year + 1
    opens = datetime(year, 8, 1, 8, 30, tzinfo=JST)
    closes = datetime(year, 8, 31, 17, 15, tzinfo=JST)
    return {
        "schema": "todoke.notice/1",
        "publisher": "gov-cfa",
        "notice_id": str(ULID()),
        "document_id": str(ULID()),
        "revision": 1,
        "msg_type": "Alert",
        "status": "Actual",
        "sent": _time(now),
        "effective": _time(now),
        "expires": _time(closes + timedelta(days=1)),
        "category": "procedure",
        "program": {
            "code": "jido-fuyo-teate",
            "name": "児童扶養手当",
            "legal_basis": "児童扶養手当法",
        },
        "area": ["00"],
        "audience": {"household": ["single_parent"]},
        "action": {
            "opens": _time(opens),
            "closes": _time(closes),
            "how_to_apply": "お住まいの市区町村の窓口、またはオンラインで提出してください。",
            "url": "https://www.cfa.go.jp/policies/hitori-oya/",
        },
        "content": {
            "ja": {
                "headline": f"児童扶養手当の現況届（{year}年8月1日〜31日）",
                "body": (
                    "児童扶養手当を受けている方は、毎年8月に現況届の提出が必要です。"
                    "提出がないと11月分以降の手当が受けられなくなります。"
                    "詳しくは市のお知らせをご覧ください。"
                ),
            },
            "en": {
                "headline": f"Child-rearing allowance status report (Aug 1–31, {year})",
                "body": "Recipients must file the annual status report in August.",
            },
        },
    }


def iji_teate_notice(now: datetime) -> dict[str, Any]:
    """愛知県 (pref-23): 愛知県遺児手当, to households enrolled in it, in Aichi."""
    return {
        "schema": "todoke.notice/1",
        "publisher": "pref-23",
        "notice_id": str(ULID()),
        "document_id": str(ULID()),
        "revision": 1,
        "msg_type": "Alert",
        "status": "Actual",
        "sent": _time(now),
        "effective": _time(now),
        "expires": _time(now + timedelta(days=60)),
        "category": "benefit",
        "program": {
            "code": "aichi-iji-teate",
            "name": "愛知県遺児手当",
            "legal_basis": "愛知県遺児手当支給規則",
        },
        "area": ["23"],
        "audience": {"programs": ["aichi-iji-teate"]},
        "action": {"url": "https://www.pref.aichi.jp/"},
        "content": {
            "ja": {
                "headline": "愛知県遺児手当の支給日のお知らせ",
                "body": (
                    "愛知県遺児手当は奇数月の25日に支給されます。"
                    "振込先の変更や住所の変更があった方は、お早めに市の担当窓口へお届けください。"
                ),
            }
        },
    }


#: the 入学準備金 application window of the campaign scenario (todoke/demo/campaign.py)
NYUGAKU_OPENS = datetime(2027, 1, 12, 8, 30, tzinfo=JST)
NYUGAKU_CLOSES = datetime(2027, 2, 12, 17, 15, tzinfo=JST)
NYUGAKU_PROGRAM = "shugaku-enjo-nyugaku"


def nyugaku_junbikin_notice(now: datetime) -> dict[str, Any]:
    """愛知県 (pref-23): 就学援助 入学準備金, to families of children entering school in April
    2027 (``es1_entrant``), with an application window: the node makes it a campaign."""
    return {
        "schema": "todoke.notice/1",
        "publisher": "pref-23",
        "notice_id": str(ULID()),
        "document_id": str(ULID()),
        "revision": 1,
        "msg_type": "Alert",
        "status": "Actual",
        "sent": _time(now),
        "effective": _time(now),
        "expires": _time(NYUGAKU_CLOSES + timedelta(days=30)),
        "category": "benefit",
        "program": {
            "code": NYUGAKU_PROGRAM,
            "name": "就学援助（新入学学用品費・入学準備金）",
            "legal_basis": "学校教育法第19条",
        },
        "area": ["23"],
        "audience": {"school_grade": ["es1_entrant"]},
        "action": {
            "opens": _time(NYUGAKU_OPENS),
            "closes": _time(NYUGAKU_CLOSES),
            "how_to_apply": "LINE のボタンからオンラインで、または市の学校教育課の窓口で申請できます。",
            "url": "https://www.pref.aichi.jp/",
        },
        "content": {
            "ja": {
                "headline": "入学準備金（就学援助）の申請のご案内（2027年4月に小学校へ入学するお子さん）",
                "body": (
                    "2027年4月に小学校へ入学するお子さんのいるご家庭で、経済的な理由でお困りの方に、"
                    "ランドセルや学用品の費用（入学準備金）を入学前に支給します。"
                    "申請期間は2027年1月12日から2月12日までです。"
                ),
            },
            "en": {
                "headline": "School-entry aid for children starting school in 2027",
                "body": "Apply between 12 January and 12 February 2027.",
            },
        },
    }
