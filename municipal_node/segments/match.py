"""Matching the sealed criteria of a spec, one friend at a time, after decryption.

Runs in a worker thread (``stream``): pure CPU, no I/O. A blob that does not open (wrong key,
tampering) never matches and is counted as unreadable; nothing about it is logged here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from municipal_node.crypto import DecryptionError, Sealer
from municipal_node.line.preferences import declared_aad
from municipal_node.residents.schemas import ResidentAttributes, open_attributes
from municipal_node.segments.ages import age_in_months, grades_of
from municipal_node.segments.spec import SegmentSpec


def open_declared_household(
    sealer: Sealer, *, tenant_code: str, user_id: str, sealed: bytes
) -> tuple[str, ...]:
    """The household types a friend declared in 受信設定; ``DecryptionError`` if unreadable."""
    text = sealer.open_text(sealed, aad=declared_aad(tenant_code, user_id))
    try:
        value = json.loads(text)
        household = value.get("household", []) if isinstance(value, dict) else None
    except ValueError as exc:
        raise DecryptionError("declared attributes are not JSON") from exc
    if not isinstance(household, list) or not all(isinstance(h, str) for h in household):
        raise DecryptionError("declared household is not a list of strings")
    return tuple(household)


class Row(NamedTuple):
    """One friend as the page query returns it (a tuple: a million of them are cheap)."""

    user_id: str
    resident_id: str | None
    district: str | None
    sealed: bytes | None
    declared_sealed: bytes | None


@dataclass(frozen=True)
class Verdict:
    matched: bool
    #: household types known for aggregate counts (resident record, else declared), or ()
    household: tuple[str, ...]
    decrypted: int
    unreadable: int


NO_MATCH = Verdict(False, (), 0, 0)


@dataclass(frozen=True)
class SealedMatcher:
    """The sealed criteria of one spec, on one date, ready to test many friends."""

    tenant_code: str
    on: date
    household: frozenset[str] | None
    age_range: tuple[int, int] | None
    school_grades: frozenset[str] | None
    programs: frozenset[str] | None

    @classmethod
    def build(cls, spec: SegmentSpec, *, tenant_code: str, on: date) -> SealedMatcher:
        age = spec.child_age_months
        return cls(
            tenant_code=tenant_code,
            on=on,
            household=None if spec.household is None else frozenset(spec.household),
            age_range=None if age is None else (age.min, age.max),
            school_grades=None if spec.school_grade is None else frozenset(spec.school_grade),
            programs=None if spec.programs is None else frozenset(spec.programs),
        )

    @property
    def needs_record(self) -> bool:
        return (
            self.age_range is not None
            or self.school_grades is not None
            or (self.programs is not None)
        )

    def _record_matches(self, attributes: ResidentAttributes) -> bool:
        if self.programs is not None and self.programs.isdisjoint(attributes.programs):
            return False
        births = attributes.child_birth_dates
        if self.age_range is not None:
            low, high = self.age_range
            if not any(low <= age_in_months(born, self.on) <= high for born in births):
                return False
        if self.school_grades is not None:
            wanted = self.school_grades
            if not any(wanted & grades_of(born, self.on) for born in births):
                return False
        return True

    def verdict(self, sealer: Sealer, row: Row) -> Verdict:
        decrypted = unreadable = 0
        attributes: ResidentAttributes | None = None
        if row.resident_id is not None and row.sealed is not None:
            decrypted += 1
            try:
                attributes = open_attributes(
                    sealer,
                    tenant_code=self.tenant_code,
                    resident_id=row.resident_id,
                    sealed=row.sealed,
                )
            except DecryptionError:
                unreadable += 1
        if self.needs_record and (attributes is None or not self._record_matches(attributes)):
            return Verdict(False, (), decrypted, unreadable)
        known = attributes.household if attributes is not None else ()
        if self.household is None or not self.household.isdisjoint(known):
            return Verdict(True, known, decrypted, unreadable)
        if row.declared_sealed is None:
            return Verdict(False, (), decrypted, unreadable)
        decrypted += 1
        try:
            declared = open_declared_household(
                sealer,
                tenant_code=self.tenant_code,
                user_id=row.user_id,
                sealed=row.declared_sealed,
            )
        except DecryptionError:
            return Verdict(False, (), decrypted, unreadable + 1)
        if self.household.isdisjoint(declared):
            return Verdict(False, (), decrypted, unreadable)
        return Verdict(True, known or declared, decrypted, unreadable)
