from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.canonical import canonicalize
from contracts.errors import ContractError, RejectionCode
from contracts.notice import MsgType, Notice, parse_notice
from tests.contracts.conftest import notice

REF = {
    "publisher": "pref-23",
    "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X",
    "revision": 1,
    "digest": "a" * 64,
}


def invalid(value: Any) -> str:
    with pytest.raises(ContractError) as info:
        parse_notice(canonicalize(value))
    assert info.value.code is RejectionCode.SCHEMA_INVALID
    return info.value.message


def test_valid_notice_round_trips_to_the_same_payload() -> None:
    parsed = parse_notice(canonicalize(notice()))
    assert parsed.schema_ == "todoke.notice/1"
    assert parsed.msg_type is MsgType.ALERT
    assert parsed.sent == datetime(2027, 4, 1, tzinfo=UTC)
    assert parsed.to_payload() == notice()
    assert (
        parsed.model_dump(by_alias=True, mode="json", exclude_none=True)["schema"]
        == "todoke.notice/1"
    )
    assert "schema_" not in parsed.model_dump()


def test_model_can_be_built_by_field_name_in_python() -> None:
    value = notice()
    value["schema_"] = value.pop("schema")
    value["sent"] = datetime(2027, 4, 1, 9, tzinfo=timezone(timedelta(hours=9)))
    assert Notice.model_validate(value).to_payload()["sent"] == "2027-04-01T09:00:00+09:00"


def test_naive_python_datetime_is_refused() -> None:
    with pytest.raises(ValidationError):
        Notice.model_validate(notice(sent=datetime(2027, 4, 1, 9)))


def test_notice_is_frozen() -> None:
    parsed = parse_notice(canonicalize(notice()))
    with pytest.raises(ValidationError):
        setattr(parsed, "revision", 2)  # noqa: B010 - the assignment must reach pydantic at run time


@pytest.mark.parametrize(
    "time",
    [
        "2027-04-01T09:00:00",
        "2027-04-01",
        "2027-04-01 09:00:00Z",
        "2027-04-01t09:00:00z",
        "20270401T090000Z",
        "2027-04-01T09:00Z",
        "2027-04-01T09:00:00+0900",
        "2027-02-30T09:00:00Z",
        "2027-04-01T24:00:00Z",
        "1743465600",
    ],
)
def test_time_must_be_rfc3339_with_offset(time: str) -> None:
    assert "sent" in invalid(notice(sent=time))


def test_fractional_seconds_and_z_are_accepted() -> None:
    parsed = parse_notice(canonicalize(notice(sent="2027-03-31T23:00:00.123456789Z")))
    assert parsed.sent == datetime(2027, 3, 31, 23, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"unknown": 1}, "unknown"),
        ({"schema": "todoke.notice/2"}, "schema"),
        ({"revision": 0}, "revision"),
        ({"revision": "1"}, "revision"),
        ({"revision": True}, "revision"),
        ({"revision": 2}, "Alert"),
        ({"notice_id": "01jq8z5x3m4n6p7r8s9t0v1w2x"}, "notice_id"),
        ({"notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2"}, "notice_id"),
        ({"notice_id": "81JQ8Z5X3M4N6P7R8S9T0V1W2X"}, "notice_id"),
        ({"document_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2I"}, "document_id"),
        ({"publisher": "pref-48"}, "publisher"),
        ({"publisher": "city-23235"}, "publisher"),
        ({"msg_type": "alert"}, "msg_type"),
        ({"status": "Draft"}, "status"),
        ({"category": "Benefit"}, "category"),
        ({"area": []}, "area"),
        ({"area": ["2"]}, "area"),
        ({"area": ["232"]}, "area"),
        ({"area": ["48"]}, "area"),
        ({"area": [23]}, "area"),
        ({"program": {"code": "Jido_Fuyo", "name": "x"}}, "program.code"),
        ({"program": {"code": "a" * 65, "name": "x"}}, "program.code"),
        ({"program": {"code": "ok", "name": "x", "extra": "y"}}, "program.extra"),
        ({"content": {"ja": {"headline": "あ" * 61, "body": "本文"}}}, "headline"),
        ({"content": {"ja": {"headline": "見出し", "body": "あ" * 1001}}}, "body"),
        ({"content": {"en": {"headline": "h", "body": "b"}}}, "content.ja"),
        (
            {
                "content": {
                    "ja": {"headline": "h", "body": "b"},
                    "fr": {"headline": "h", "body": "b"},
                }
            },
            "fr",
        ),
        ({"audience": {"household": ["rich"]}}, "household"),
        ({"audience": {"household": []}}, "household"),
        ({"audience": {"school_grade": ["es7"]}}, "school_grade"),
        ({"audience": {"child_age_months": {"min": 13, "max": 12}}}, "child_age_months"),
        ({"audience": {"child_age_months": {"min": -1, "max": 12}}}, "min"),
        ({"audience": {"resident_id": "123"}}, "resident_id"),
        ({"action": {"url": "http://example.jp/"}}, "url"),
        ({"action": {"url": "https://"}}, "url"),
        ({"action": {"url": "javascript:alert(1)"}}, "url"),
        ({"action": {"opens": "2027-05-01T00:00:00Z", "closes": "2027-05-01T00:00:00Z"}}, "opens"),
        ({"effective": "2027-07-01T00:00:00+09:00"}, "effective"),
        ({"expires": "2027-04-01T09:00:00+09:00"}, "before expires"),
        ({"cancel_reason": "no"}, "cancel_reason"),
        ({"references": [REF]}, "references"),
    ],
)
def test_rule_violation_is_schema_invalid(changes: dict[str, Any], where: str) -> None:
    assert where in invalid(notice(**changes))


def test_alert_with_empty_references_is_valid() -> None:
    assert parse_notice(canonicalize(notice(references=[]))).references == []


def test_alert_omits_empty_references_on_the_wire() -> None:
    assert "references" not in parse_notice(canonicalize(notice(references=[]))).to_payload()


def update(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "msg_type": "Update",
        "revision": 2,
        "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2Y",
        "references": [REF],
    }
    return notice(**{**base, **changes})


def test_update_with_reference_is_valid() -> None:
    assert parse_notice(canonicalize(update())).references[0].revision == 1


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"references": None}, "references"),
        ({"references": []}, "references"),
        ({"references": [{**REF, "digest": "A" * 64}]}, "digest"),
        ({"references": [{**REF, "extra": 1}]}, "extra"),
        ({"msg_type": "Cancel"}, "cancel_reason"),
    ],
)
def test_update_and_cancel_rules(changes: dict[str, Any], where: str) -> None:
    assert where in invalid(update(**changes))


@pytest.mark.parametrize(
    "changes",
    [
        {"revision": 1},
        {"references": [{**REF, "revision": 2}]},
        {"references": [{**REF, "publisher": "pref-24"}]},
    ],
)
def test_rules_relating_notices_are_not_schema_rules(changes: dict[str, Any]) -> None:
    # cross-publisher references and non-increasing revisions are lifecycle rules (CONTRACT §3:
    # BAD_REFERENCE / STALE_REVISION), decided by whoever holds the referenced notice
    assert parse_notice(canonicalize(update(**changes))).msg_type == "Update"


def test_cancel_with_reason_is_valid() -> None:
    parsed = parse_notice(canonicalize(update(msg_type="Cancel", cancel_reason="誤りのため")))
    assert parsed.cancel_reason == "誤りのため"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"revision":1.0}',
        b'{"a":NaN}',
        b'{"a":1,"a":2}',
        b"[]",
        b"\xff",
        b"",
    ],
)
def test_parse_notice_refuses_non_contract_json(payload: bytes) -> None:
    with pytest.raises(ContractError) as info:
        parse_notice(payload)
    assert info.value.code is RejectionCode.SCHEMA_INVALID


def test_float_anywhere_is_schema_invalid() -> None:
    payload = (
        canonicalize(notice())
        .replace(b'"min":0', b'"min":0')
        .replace(b'"revision":1', b'"revision":1.5')
    )
    with pytest.raises(ContractError) as info:
        parse_notice(payload)
    assert "float" in info.value.message


def test_url_whitespace_check_is_str_isspace_and_c0_controls() -> None:
    from contracts.notice import _URL_SPACE_OR_CONTROL

    for code in range(0x110000):
        char = chr(code)
        expected = char.isspace() or code < 0x20
        assert (_URL_SPACE_OR_CONTROL.search(char) is not None) is expected, hex(code)
