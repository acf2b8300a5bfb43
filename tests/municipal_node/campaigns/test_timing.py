"""When campaign phases are sent: out of quiet hours (default 21:00–08:00 JST), off weekends
and public holidays with ``skip_holidays`` (next business day 09:00 JST), the default times
(予告 7 days before opening, 受付開始 at opening, リマインド 7 days before closing, never before
opening) and phases whose time has passed."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from municipal_node.campaigns.timing import (
    AFTER_CLOSE_REASON,
    PASSED_REASON,
    SendRules,
    adjust,
    default_phase_times,
    jst_text,
    parse_hhmm,
)
from municipal_node.segments.ages import JST


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


DEFAULT = SendRules()
HOLIDAYS = SendRules(skip_holidays=True)


@pytest.mark.parametrize(
    ("at", "rules", "expected"),
    [
        ("2026-06-10 22:30", DEFAULT, "2026-06-11 08:00"),  # evening → next morning
        ("2026-06-10 03:00", DEFAULT, "2026-06-10 08:00"),  # night → same morning
        ("2026-06-10 21:00", DEFAULT, "2026-06-11 08:00"),  # the start is inside
        ("2026-06-10 08:00", DEFAULT, "2026-06-10 08:00"),  # the end is outside
        ("2026-06-10 12:00", DEFAULT, "2026-06-10 12:00"),
        ("2026-06-13 12:00", DEFAULT, "2026-06-13 12:00"),  # a Saturday is fine by default
        ("2026-06-13 12:00", HOLIDAYS, "2026-06-15 09:00"),  # Saturday → Monday 09:00
        ("2027-01-11 10:00", HOLIDAYS, "2027-01-12 09:00"),  # 成人の日 → Tuesday
        ("2027-01-08 22:00", HOLIDAYS, "2027-01-12 09:00"),  # Fri night → Sat → 成人の日 → Tue
        ("2026-05-02 10:00", HOLIDAYS, "2026-05-07 09:00"),  # Golden Week incl. 振替休日
        ("2026-09-19 10:00", HOLIDAYS, "2026-09-24 09:00"),  # シルバーウィーク (国民の休日)
        ("2026-06-12 07:00", HOLIDAYS, "2026-06-12 08:00"),  # business day: quiet only
        ("2026-06-10 12:30", SendRules(time(12), time(13)), "2026-06-10 13:00"),  # same-day
        ("2026-06-10 23:00", SendRules(time(21), time(21)), "2026-06-10 23:00"),  # none
        # a quiet period ending after 09:00: the business-day start is moved again
        ("2026-06-13 12:00", SendRules(time(18), time(10), True), "2026-06-15 10:00"),
    ],
)
def test_adjust(at: str, rules: SendRules, expected: str) -> None:
    assert adjust(jst(at), rules) == jst(expected)


def test_parse_hhmm_refuses_bad_times_in_japanese() -> None:
    assert parse_hhmm("08:30") == time(8, 30)
    for bad in ("24:00", "8:00", "08:60", "夜"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_hhmm(bad)


def test_default_phase_times() -> None:
    opens, closes = jst("2026-05-11 09:00"), jst("2026-06-10 17:00")
    times = {
        t.phase: t
        for t in default_phase_times(opens, closes, rules=HOLIDAYS, now=jst("2026-04-01 00:00"))
    }
    assert times["preview"].send_at == jst("2026-05-07 09:00")  # 05-04 is a holiday
    assert times["open"].send_at == opens
    assert times["reminder"].send_at == jst("2026-06-03 17:00")
    assert all(t.off_reason is None for t in times.values())
    assert jst_text(times["preview"].send_at) == "2026-05-07 09:00 JST（木）"


def test_a_short_window_gets_its_reminder_half_way_and_passed_phases_are_off() -> None:
    opens, closes = jst("2026-06-10 10:00"), jst("2026-06-13 10:00")
    times = {
        t.phase: t
        for t in default_phase_times(opens, closes, rules=DEFAULT, now=jst("2026-06-05 00:00"))
    }
    # 7 days before closing is before opening: half-way (06-11 22:00), out of quiet hours
    assert times["reminder"].send_at == jst("2026-06-12 08:00")
    assert times["reminder"].off_reason is None
    assert times["preview"].send_at == jst("2026-06-03 10:00")
    assert times["preview"].off_reason == PASSED_REASON  # it had passed at creation
    assert times["open"].off_reason is None


def test_phases_pushed_past_closing_are_off() -> None:
    # a window from Friday 21:30 to Saturday 12:00: with skip_holidays both the opening and the
    # reminder would go out on Monday, after closing
    opens, closes = jst("2026-06-12 21:30"), jst("2026-06-13 12:00")
    times = {
        t.phase: t
        for t in default_phase_times(opens, closes, rules=HOLIDAYS, now=jst("2026-06-01 00:00"))
    }
    assert times["open"].send_at == jst("2026-06-15 09:00")
    assert times["open"].off_reason == AFTER_CLOSE_REASON
    assert times["reminder"].off_reason == AFTER_CLOSE_REASON
    assert times["preview"].off_reason is None
