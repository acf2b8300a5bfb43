"""When each date trigger is due for a child (pure)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from municipal_node.segments.ages import age_in_months, grades_of
from municipal_node.triggers.definitions import DEFINITIONS, fire_key, reaches_months


def test_reaching_an_age_in_months_agrees_with_the_age_rule_for_every_birthday() -> None:
    start = date(2023, 1, 1)
    for offset in range(3 * 366):
        born = start + timedelta(days=offset)
        for months in (3, 4, 17, 18, 35, 36):
            day = reaches_months(born, months)
            assert age_in_months(born, day) == months, (born, months)
            assert age_in_months(born, day - timedelta(days=1)) == months - 1, (born, months)


def test_a_child_born_on_the_31st_reaches_a_month_on_the_first_when_the_month_is_short() -> None:
    assert reaches_months(date(2026, 1, 31), 1) == date(2026, 3, 1)
    assert reaches_months(date(2025, 12, 31), 2) == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("trigger", "born", "notify", "event"),
    [
        ("checkup_4m", date(2026, 1, 15), date(2026, 4, 15), date(2026, 5, 15)),
        ("checkup_18m", date(2024, 10, 2), date(2026, 3, 2), date(2026, 4, 2)),
        ("checkup_3y", date(2023, 5, 1), date(2026, 4, 1), date(2026, 5, 1)),
        # born 2020-04-02 … 2021-04-01 enter elementary school in April 2027
        ("school_entry", date(2020, 4, 2), date(2026, 12, 1), date(2027, 4, 1)),
        ("school_entry", date(2021, 4, 1), date(2026, 12, 1), date(2027, 4, 1)),
        ("school_entry", date(2021, 4, 2), date(2027, 12, 1), date(2028, 4, 1)),
    ],
)
def test_a_trigger_is_due_from_its_notice_day_until_the_event(
    trigger: str, born: date, notify: date, event: date
) -> None:
    definition = DEFINITIONS[trigger]
    assert definition.notify_day(born) == notify
    assert definition.event_day(born) == event
    assert not definition.due(born, notify - timedelta(days=1))
    assert definition.due(born, notify)
    assert definition.due(born, event - timedelta(days=1))
    assert not definition.due(born, event)


def test_school_entry_is_notified_while_the_child_is_an_es1_entrant() -> None:
    born = date(2020, 9, 9)
    notify = DEFINITIONS["school_entry"].notify_day(born)
    assert "es1_entrant" in grades_of(born, notify)


def test_a_fire_key_fits_a_notice_id() -> None:
    assert all(len(fire_key(code, date(2027, 12, 31))) <= 26 for code in DEFINITIONS)
