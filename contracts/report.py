"""Delivery reports (CONTRACT §6) and the small-cell suppression they need.

Suppression, as ``suppress_counts`` implements it and ``Report`` checks it:

1. Primary: every count from 1 to 9 is withheld (``null`` and named in ``suppressed``).
2. Complementary: the counts are assumed to obey ``targeted = sent + failed + blocked``
   (every targeted resident ends up sent, failed or blocked; while a send is still running
   ``targeted`` may exceed the sum, and the equality is the worst case for disclosure). An
   observer knows the published counts, which names are withheld, that relation, and that a
   withheld count is a whole number >= 1 (zero is never withheld). A withheld member of that
   group is then derivable if it is the only withheld member, or if ``targeted`` is published
   and the withheld parts must all be 1 (their published remainder equals how many they
   are). In either case the smallest non-zero published member of the group is withheld as
   well, repeated until nothing is derivable.
3. ``opened``, ``clicked`` and ``applied`` are in no equation (each is at most the one before
   it in the funnel, which bounds but never pins a value), so only rule 1 applies to them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import Field, model_validator

from contracts.fields import ContractModel, Count, MunicipalityCode, PublisherId, Time, Ulid

REPORT_SCHEMA: Final = "todoke.report/1"
COUNT_NAMES = ("targeted", "sent", "failed", "blocked", "opened", "clicked", "applied")
GROUP_TOTAL = "targeted"
GROUP_PARTS = ("sent", "failed", "blocked")
GROUP = (GROUP_TOTAL, *GROUP_PARTS)
SMALL_MIN, SMALL_MAX = 1, 9

CountName = Literal["targeted", "sent", "failed", "blocked", "opened", "clicked", "applied"]


class Phase(StrEnum):
    PREVIEW = "preview"
    OPEN = "open"
    REMINDER = "reminder"
    SINGLE = "single"


class ReportedNotice(ContractModel):
    publisher: PublisherId
    notice_id: Ulid


class Counts(ContractModel):
    """Every member is present: an integer >= 0, or ``null`` when withheld."""

    targeted: Count | None
    sent: Count | None
    failed: Count | None
    blocked: Count | None
    opened: Count | None
    clicked: Count | None
    applied: Count | None


class Report(ContractModel):
    """A node's delivery report; no resident identifiers anywhere."""

    schema_: Literal["todoke.report/1"] = Field(default=REPORT_SCHEMA, alias="schema")
    municipality: MunicipalityCode
    notice: ReportedNotice
    phase: Phase
    as_of: Time
    counts: Counts
    suppressed: list[CountName]

    @model_validator(mode="after")
    def _suppression(self) -> Report:
        values = self.counts.model_dump()
        if len(set(self.suppressed)) != len(self.suppressed):
            raise ValueError("suppressed names must be unique")
        withheld = {name for name, value in values.items() if value is None}
        if withheld != set(self.suppressed):
            raise ValueError("a count is null exactly when it is named in suppressed")
        small = [n for n, v in values.items() if v is not None and SMALL_MIN <= v <= SMALL_MAX]
        if small:
            raise ValueError(f"counts from 1 to 9 must be withheld: {', '.join(small)}")
        if _derivable({n: v for n, v in values.items() if v is not None}, withheld):
            raise ValueError("a withheld count could be derived: complementary suppression missing")
        return self

    def to_payload(self) -> dict[str, Any]:
        # Withheld counts are explicit nulls, so nothing is dropped here.
        return self.model_dump(mode="json", by_alias=True)


def _derivable(published: Mapping[str, int], withheld: Collection[str]) -> bool:
    """Whether the observer of the module docstring can pin a withheld group member."""
    hidden = [name for name in GROUP if name in withheld]
    if len(hidden) == 1:
        return True
    if len(hidden) >= 2 and GROUP_TOTAL not in withheld:
        remainder = published[GROUP_TOTAL] - sum(
            published[n] for n in GROUP_PARTS if n not in withheld
        )
        # Each hidden part is >= 1, so one of them can range over 1 .. remainder - (k - 1).
        return remainder - (len(hidden) - 1) <= 1
    return False


def suppress_counts(counts: Mapping[str, int]) -> tuple[dict[str, int | None], list[str]]:
    """Apply primary and complementary suppression (module docstring).

    ``counts`` must have exactly the seven count names with integers >= 0 (``ValueError``
    otherwise). Returns the counts to publish (withheld ones ``None``) and the withheld names
    in ``COUNT_NAMES`` order.
    """
    if set(counts) != set(COUNT_NAMES):
        raise ValueError(f"counts must have exactly: {', '.join(COUNT_NAMES)}")
    for name, value in counts.items():
        if type(value) is not int or value < 0:
            raise ValueError(f"count {name} must be an integer >= 0")
    withheld = {name for name, value in counts.items() if SMALL_MIN <= value <= SMALL_MAX}
    while True:
        published = {n: v for n, v in counts.items() if n not in withheld}
        if not _derivable(published, withheld):
            break
        candidates = [n for n in GROUP if n not in withheld]
        if not candidates:
            break
        # Smallest non-zero first; a zero only if nothing else is left (inconsistent input).
        withheld.add(min(candidates, key=lambda n: (counts[n] == 0, counts[n], GROUP.index(n))))
    names = [name for name in COUNT_NAMES if name in withheld]
    return {name: (None if name in withheld else counts[name]) for name in COUNT_NAMES}, names
