from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts.notice import Audience
from municipal_node.dispatch.audience import (
    AudienceMatcher,
    age_in_months,
    grades_of,
    jst_date,
)
from municipal_node.residents.schemas import ResidentAttributes


def resident(
    household: tuple[str, ...] = (),
    births: tuple[str, ...] = (),
    programs: tuple[str, ...] = (),
) -> ResidentAttributes:
    return ResidentAttributes(household, tuple(date.fromisoformat(b) for b in births), programs)


def matcher(effective: str = "2027-04-10T00:00:00+09:00", **audience: Any) -> AudienceMatcher:
    return AudienceMatcher.build(
        Audience.model_validate(audience), effective=datetime.fromisoformat(effective)
    )


# --- school year and the April 1 rule -------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "grade"),
    [
        ("2020-04-02", "es1"),  # earliest birthday of the 2027 entrants
        ("2021-04-01", "es1"),  # latest: April 1 belongs to the year before (早生まれ)
        ("2021-04-02", "es1_entrant"),  # one day later: enters next year
        ("2020-04-01", "es2"),  # one day earlier: a year ahead
        ("2015-04-02", "es6"),
        ("2014-04-02", "jh1"),
        ("2011-04-02", "hs1"),
        ("2009-04-02", "hs3"),
    ],
)
def test_school_grade_follows_the_april_1_rule(born: str, grade: str) -> None:
    assert grade in grades_of(date.fromisoformat(born), date(2027, 4, 10))


def test_grade_changes_on_april_1_not_on_january_1() -> None:
    born = date(2020, 6, 1)  # es1 in school year 2027
    assert "es1_entrant" in grades_of(born, date(2027, 3, 31))
    assert "es1" in grades_of(born, date(2027, 4, 1))
    assert "es1" in grades_of(born, date(2028, 3, 31))
    assert "es2" in grades_of(born, date(2028, 4, 1))


def test_preschool_grades() -> None:
    on = date(
        2027, 4, 10
    )  # school year 2027; es1 entrants of 2028 were born 2021-04-02..2022-04-01
    assert grades_of(date(2022, 4, 1), on) == {"es1_entrant", "kindergarten", "nursery"}  # 年長
    assert grades_of(date(2023, 4, 1), on) == {"kindergarten", "nursery"}  # 年中
    assert grades_of(date(2024, 4, 1), on) == {"kindergarten", "nursery"}  # 年少 (3歳児)
    assert grades_of(date(2024, 4, 2), on) == {"nursery"}  # 2歳児クラス
    assert grades_of(date(2027, 4, 2), on) == {"nursery"}  # born this school year: 0歳児
    assert grades_of(date(2027, 4, 11), on) == set()  # not born yet


# --- age in months ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "on", "months"),
    [
        ("2027-01-10", "2027-04-09", 2),
        ("2027-01-10", "2027-04-10", 3),
        ("2027-01-31", "2027-02-28", 0),  # no Feb 31: one month is reached on Mar 1
        ("2027-01-31", "2027-03-01", 1),
        ("2024-02-29", "2025-02-28", 11),
        ("2024-02-29", "2025-03-01", 12),
        ("2027-04-10", "2027-04-10", 0),
        ("2027-04-11", "2027-04-10", -1),
    ],
)
def test_age_in_whole_months(born: str, on: str, months: int) -> None:
    assert age_in_months(date.fromisoformat(born), date.fromisoformat(on)) == months


def test_effective_is_read_as_a_jst_date() -> None:
    # 2027-03-31T15:00Z is already April 1 in Japan: a new school year
    assert jst_date(datetime(2027, 3, 31, 15, 0, tzinfo=UTC)) == date(2027, 4, 1)
    born = date(2020, 6, 1)
    m = matcher("2027-03-31T15:00:00Z", school_grade=["es1"])
    assert m.matches(resident(births=(born.isoformat(),)))
    m = matcher("2027-03-31T14:59:59Z", school_grade=["es1"])
    assert not m.matches(resident(births=(born.isoformat(),)))


def test_child_age_range_is_inclusive_and_any_child_may_match() -> None:
    m = matcher("2027-04-10T00:00:00+09:00", child_age_months={"min": 4, "max": 6})
    assert m.matches(resident(births=("2026-12-10",)))  # exactly 4
    assert m.matches(resident(births=("2026-10-10",)))  # exactly 6
    assert m.matches(resident(births=("2026-10-09",)))  # 6 months and 1 day: still 6
    assert not m.matches(resident(births=("2026-09-10",)))  # 7
    assert not m.matches(resident(births=("2026-12-11",)))  # 3 months and 30 days
    assert m.matches(resident(births=("2010-01-01", "2026-11-01")))
    assert not m.matches(resident())


# --- combining members -----------------------------------------------------------------------


def test_members_are_anded_and_lists_are_ored() -> None:
    m = matcher(household=["single_parent", "pregnant"], programs=["jido-fuyo-teate"])
    assert m.matches(resident(("pregnant",), programs=("jido-fuyo-teate", "other")))
    assert not m.matches(resident(("pregnant",)))  # program missing
    assert not m.matches(resident(("elderly",), programs=("jido-fuyo-teate",)))


def test_an_empty_audience_matches_everyone() -> None:
    assert matcher().matches(resident())


def test_interests_match_nobody_until_residents_can_declare_them() -> None:
    m = matcher(interests=["子育て"])
    assert not m.matches(resident(("child_rearing",), ("2026-01-01",), ("jido-teate",)))
