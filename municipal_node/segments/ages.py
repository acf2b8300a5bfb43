"""Children's ages and school grades, as the contract's ``audience`` means them (CONTRACT §2).

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
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")

GRADE_INDEX: dict[str, tuple[int, ...]] = {
    **{f"es{n}": (n,) for n in range(1, 7)},
    **{f"jh{n}": (6 + n,) for n in range(1, 4)},
    **{f"hs{n}": (9 + n,) for n in range(1, 4)},
    "es1_entrant": (0,),
    "kindergarten": (-2, -1, 0),
    "nursery": (-6, -5, -4, -3, -2, -1, 0),
}


def jst_date(moment: datetime) -> date:
    return moment.astimezone(JST).date()


def age_in_months(born: date, on: date) -> int:
    """Whole months from ``born`` to ``on`` (negative before birth)."""
    months = (on.year - born.year) * 12 + (on.month - born.month)
    if on.day < born.day:
        months -= 1
    return months


def school_year(on: date) -> int:
    """The April–March school year containing ``on`` (named by the year it starts)."""
    return on.year if on.month >= 4 else on.year - 1


def es1_entry_year(born: date) -> int:
    """School year in which a child born on ``born`` enters elementary school."""
    return born.year + 7 if (born.month, born.day) >= (4, 2) else born.year + 6


def grade_index(born: date, on: date) -> int:
    """``g`` of the module docstring: 1 = es1, 0 = the year before, 7 = jh1 …"""
    return school_year(on) - es1_entry_year(born) + 1


def grades_of(born: date, on: date) -> set[str]:
    """Every ``school_grade`` value that describes a child born on ``born`` on date ``on``."""
    if born > on:
        return set()
    g = grade_index(born, on)
    return {name for name, indexes in GRADE_INDEX.items() if g in indexes}
