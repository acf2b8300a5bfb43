"""Does a resident belong to a notice's ``audience``? (CONTRACT §2)

Every member present must hold (AND); inside a member any value may hold (OR). A member that
is present with an empty list matches nobody (an empty OR is false).

- ``household``: the resident has any of the listed household types.
- ``child_age_months`` ``{min, max}``: some child's age in whole months on the JST date of
  ``effective`` is within [min, max]. A child born on the 31st is 1 month old on the 1st of
  the month after next when the next month has no 31st (the civil-code reading: the period
  ends on the last day of the month that lacks the day).
- ``school_grade``: Japanese school years run April–March; a child enters es1 in the April
  after their 6th birthday, where a birthday on April 1 counts for the year before (早生まれ,
  the April 1 rule): born Apr 2 (Y−7) … Apr 1 (Y−6) → es1 in school year Y. With
  ``g = school_year(effective) − entry_year(child) + 1``:
  es1..es6 = g 1..6, jh1..jh3 = g 7..9, hs1..hs3 = g 10..12;
  ``es1_entrant`` = g 0 (enters es1 next April; 年長);
  ``kindergarten`` = g −2..0 (幼稚園 3〜5歳児クラス: 年少・年中・年長);
  ``nursery`` = g −6..0 and already born (保育所 0〜5歳児クラス; children born during the
  current school year are 0歳児 too).
  This is age-based: the node does not know where a child actually goes.
- ``programs``: the resident is enrolled in any of the listed program codes.
- ``interests``: residents have not declared interests yet (no 受信設定 in this version), so
  an audience with ``interests`` matches nobody. Deliberate: sending to everyone would be
  the wrong failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from contracts.notice import Audience
from municipal_node.residents.schemas import ResidentAttributes

# The age and grade rules live in ``municipal_node.segments.ages`` (shared with segments).
from municipal_node.segments.ages import (
    JST,
    age_in_months,
    es1_entry_year,
    grade_index,
    grades_of,
    jst_date,
    school_year,
)

__all__ = [
    "JST",
    "AudienceMatcher",
    "age_in_months",
    "es1_entry_year",
    "grade_index",
    "grades_of",
    "jst_date",
    "school_year",
]


@dataclass(frozen=True)
class AudienceMatcher:
    """Criteria of one notice, ready to test many residents."""

    on: date
    household: frozenset[str] | None
    age_range: tuple[int, int] | None
    school_grades: frozenset[str] | None
    programs: frozenset[str] | None
    has_interests: bool

    @classmethod
    def build(cls, audience: Audience, *, effective: datetime) -> AudienceMatcher:
        def as_set(values: Iterable[object] | None) -> frozenset[str] | None:
            return None if values is None else frozenset(str(v) for v in values)

        age = audience.child_age_months
        return cls(
            on=jst_date(effective),
            household=as_set(audience.household),
            age_range=None if age is None else (age.min, age.max),
            school_grades=as_set(audience.school_grade),
            programs=as_set(audience.programs),
            has_interests=audience.interests is not None,
        )

    def matches(self, resident: ResidentAttributes) -> bool:
        if self.has_interests:
            return False
        if self.household is not None and self.household.isdisjoint(resident.household):
            return False
        if self.programs is not None and self.programs.isdisjoint(resident.programs):
            return False
        if self.age_range is not None:
            low, high = self.age_range
            ages = (age_in_months(born, self.on) for born in resident.child_birth_dates)
            if not any(low <= age <= high for age in ages):
                return False
        if self.school_grades is not None:
            grades = self.school_grades
            if not any(grades & grades_of(born, self.on) for born in resident.child_birth_dates):
                return False
        return True
