"""Recurrence dates: RRULE occurrences, business-day adjustment, lead time, send time (JST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from municipal_node.recurring.dates import (
    Recurrence,
    RecurrenceError,
    adjust_day,
    build_rule,
    is_business_day,
    parse_send_time,
)
from municipal_node.segments.ages import JST

JIDOU_FUYOU = "FREQ=MONTHLY;BYMONTH=1,3,5,7,9,11;BYMONTHDAY=11"
APRIL_1 = datetime(2026, 4, 1, tzinfo=UTC)


def payments(adjust: str = "previous", lead_days: int = 2) -> Recurrence:
    return Recurrence(JIDOU_FUYOU, date(2026, 4, 1), lead_days, time(9, 0), adjust)  # type: ignore[arg-type]


def test_the_11th_of_odd_months_moves_to_the_previous_business_day_and_notifies_two_days_before() -> (
    None
):  # noqa: E501
    found = payments().upcoming(now=APRIL_1, limit=6)
    assert [(o.on, o.event_day, o.notify_day) for o in found] == [
        (date(2026, 5, 11), date(2026, 5, 11), date(2026, 5, 9)),
        (date(2026, 7, 11), date(2026, 7, 10), date(2026, 7, 8)),  # Saturday → Friday
        (date(2026, 9, 11), date(2026, 9, 11), date(2026, 9, 9)),
        (date(2026, 11, 11), date(2026, 11, 11), date(2026, 11, 9)),
        (date(2027, 1, 11), date(2027, 1, 8), date(2027, 1, 6)),  # 成人の日 (Mon) → Friday
        (date(2027, 3, 11), date(2027, 3, 11), date(2027, 3, 9)),
    ]


def test_a_notice_goes_out_at_the_send_time_in_japan() -> None:
    first = payments().upcoming(now=APRIL_1)[0]
    assert first.send_at == datetime(2026, 5, 9, 9, 0, tzinfo=JST)
    assert first.send_at.tzinfo == UTC


def test_the_next_occurrence_is_the_first_whose_send_time_is_still_ahead() -> None:
    just_after = datetime(2026, 5, 9, 9, 0, 1, tzinfo=JST)
    assert payments().upcoming(now=just_after)[0].on == date(2026, 7, 11)
    just_before = datetime(2026, 5, 9, 8, 59, tzinfo=JST)
    assert payments().upcoming(now=just_before)[0].on == date(2026, 5, 11)


def test_a_holiday_can_move_the_event_to_the_next_business_day_or_stay() -> None:
    assert adjust_day(date(2027, 1, 11), "next") == date(2027, 1, 12)
    assert adjust_day(date(2027, 1, 11), "none") == date(2027, 1, 11)


def test_the_bank_year_end_closure_and_substitute_holidays_are_not_business_days() -> None:
    assert adjust_day(date(2027, 1, 3), "previous") == date(2026, 12, 30)
    assert not is_business_day(date(2026, 12, 31))
    assert not is_business_day(date(2026, 5, 6))  # 振替休日
    assert is_business_day(date(2026, 5, 7))
    assert adjust_day(date(2026, 5, 6), "previous") == date(2026, 5, 1)  # Golden Week


def test_a_rule_that_never_matches_has_no_occurrence_and_is_refused() -> None:
    never = Recurrence("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", date(2026, 4, 1), 0, time(9), "none")
    assert never.upcoming(now=APRIL_1) == []
    with pytest.raises(RecurrenceError, match="今後5年間"):
        never.validate(now=APRIL_1)


def test_a_rule_ended_by_until_stops() -> None:
    ends = Recurrence(
        "FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20260701", date(2026, 4, 1), 0, time(9), "none"
    )
    assert [o.on for o in ends.upcoming(now=APRIL_1, limit=10)] == [
        date(2026, 5, 1),
        date(2026, 6, 1),
        date(2026, 7, 1),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FREQ=HOURLY", "FREQ"),
        ("FREQ=MONTHLY;COUNT=3", "COUNT"),
        ("DTSTART:20260101\nRRULE:FREQ=DAILY", "1行"),
        ("FREQ=MONTHLY;BYMONTHDAY=eleven", "読めません"),
        ("FREQ=MONTHLY;BYDAY=XX", "読めません"),
        ("EVERY MONTH", "読めません"),
        ("", "1行"),
    ],
)
def test_an_unusable_rrule_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(RecurrenceError, match=message):
        build_rule(text, date(2026, 4, 1))


@pytest.mark.parametrize("value", ["21:00", "07:59", "23:30", "00:00"])
def test_a_send_time_inside_quiet_hours_is_refused(value: str) -> None:
    with pytest.raises(RecurrenceError, match="夜間"):
        parse_send_time(value)


@pytest.mark.parametrize("value", ["9:00", "09:60", "nine", "24:00"])
def test_a_send_time_not_in_hh_mm_is_refused(value: str) -> None:
    with pytest.raises(RecurrenceError, match="HH:MM"):
        parse_send_time(value)


def test_send_times_at_the_edges_of_the_day_are_accepted() -> None:
    assert parse_send_time("08:00") == time(8, 0)
    assert parse_send_time("20:59") == time(20, 59)
