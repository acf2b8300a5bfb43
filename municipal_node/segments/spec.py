"""``SegmentSpec``: who a send reaches, as data (stored as JSON in ``segments.spec``).

Members present must all hold (AND); inside a list any value may hold (OR); an absent member
does not restrict. The contract's audience criteria (``household``, ``child_age_months``,
``school_grade``, ``programs``, ``interests``) mean what CONTRACT §2 says; the local ones:

- ``interests``: topic codes or labels of 受信設定 (``municipal_node.line.topics``), matched
  against the topics the friend chose (``friend_preferences.topics``); stored as codes.
- ``districts``: the linked resident record's ``district`` (地区) is one of these.
- ``linked_only``: only friends linked (ID連携) to a resident record.

``household``, ``child_age_months``, ``school_grade`` and ``programs`` are sealed attributes:
they are matched after decryption and, except ``household`` (which also matches the household
a friend declared in 受信設定), need a linked resident record.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from contracts.fields import ProgramCode
from contracts.notice import AgeRange, Audience, HouseholdType, SchoolGrade
from municipal_node.line.topics import TOPICS, topic_code

MAX_DISTRICT = 64
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

#: validation context key for specs the node built itself (a notice's audience, a stored or
#: narrowed spec): interests this node does not know are kept (a notice may name topics of
#: other nodes; they match nobody here, which is the safe failure) and an empty list is
#: allowed (an empty OR: matches nobody). Specs typed by staff get neither.
INTERNAL = "internal"

_EMPTY = (
    "空のリストは指定できません（条件を付けないときは項目ごと省きます）"
    " / an empty list is not allowed (leave the member out to not restrict)"
)


def _internal(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(INTERNAL))


def _not_empty(value: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
    if value is not None and not value and not _internal(info):
        raise ValueError(_EMPTY)
    return value


def _unique(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else list(dict.fromkeys(values))


def _districts(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    cleaned: list[str] = []
    for value in values:
        text = value.strip()
        if not text or len(text) > MAX_DISTRICT or _CONTROL_RE.search(text):
            raise ValueError(
                f"地区は制御文字を含まない1〜{MAX_DISTRICT}文字です（{text[:20]!r}）"
                f" / a district is 1-{MAX_DISTRICT} characters without control characters"
            )
        cleaned.append(text)
    return _unique(cleaned)


def _interests(values: list[str] | None, *, keep_foreign: bool) -> list[str] | None:
    if values is None:
        return None
    codes: list[str] = []
    for value in values:
        code = topic_code(value.strip())
        if code is None:
            if keep_foreign:
                codes.append(value)
                continue
            known = "、".join(f"{c}（{label}）" for c, label in TOPICS.items())
            raise ValueError(
                f"受信設定の話題 {value!r} はありません。使える話題: {known}"
                f" / unknown topic {value!r}; use one of {', '.join(TOPICS)}"
            )
        codes.append(code)
    return _unique(codes)


class LocalCriteria(BaseModel):
    """Criteria a relay rule adds on top of its segment or the notice's audience."""

    model_config = ConfigDict(extra="forbid")

    interests: list[str] | None = None
    districts: list[str] | None = None
    linked_only: bool = False

    @field_validator("interests", "districts", mode="before")
    @classmethod
    def _present_lists_not_empty(cls, value: Any, info: ValidationInfo) -> Any:
        return _not_empty(value, info) if isinstance(value, list) else value

    @field_validator("interests")
    @classmethod
    def _check_interests(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        return _interests(value, keep_foreign=_internal(info))

    @field_validator("districts")
    @classmethod
    def _check_districts(cls, value: list[str] | None) -> list[str] | None:
        return _districts(value)


class SegmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household: list[HouseholdType] | None = None
    child_age_months: AgeRange | None = None
    school_grade: list[SchoolGrade] | None = None
    programs: list[ProgramCode] | None = None
    interests: list[str] | None = None
    districts: list[str] | None = None
    linked_only: bool = False

    @field_validator(
        "household", "school_grade", "programs", "interests", "districts", mode="before"
    )
    @classmethod
    def _present_lists_not_empty(cls, value: Any, info: ValidationInfo) -> Any:
        return _not_empty(value, info) if isinstance(value, list) else value

    @field_validator("household", "school_grade", "programs")
    @classmethod
    def _dedupe(cls, value: list[Any] | None) -> list[Any] | None:
        return _unique(value)

    @field_validator("interests")
    @classmethod
    def _check_interests(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        return _interests(value, keep_foreign=_internal(info))

    @field_validator("districts")
    @classmethod
    def _check_districts(cls, value: list[str] | None) -> list[str] | None:
        return _districts(value)

    @classmethod
    def from_audience(cls, audience: Audience) -> SegmentSpec:
        """The notice's own audience as a spec (unknown interests kept: they match nobody)."""
        return cls.model_validate(
            audience.model_dump(mode="json", exclude_none=True),
            context={INTERNAL: True},
        )

    def to_json(self) -> dict[str, Any]:
        """The stored form: absent members and ``linked_only: false`` omitted."""
        value = self.model_dump(mode="json", exclude_none=True)
        if not self.linked_only:
            value.pop("linked_only", None)
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SegmentSpec:
        """A spec the node stored (validated again, in the ``INTERNAL`` context)."""
        return cls.model_validate(value, context={INTERNAL: True})

    @property
    def has_sealed_criteria(self) -> bool:
        """Whether matching needs decryption."""
        return (
            self.household is not None
            or self.child_age_months is not None
            or self.school_grade is not None
            or self.programs is not None
        )

    @property
    def needs_resident(self) -> bool:
        """Whether only friends linked to a resident record can match."""
        return (
            self.linked_only
            or self.districts is not None
            or self.child_age_months is not None
            or self.school_grade is not None
            or self.programs is not None
        )


def narrow(spec: SegmentSpec, local: LocalCriteria | None) -> SegmentSpec:
    """``spec`` AND ``local``. An empty intersection is an empty list: nobody matches.

    Districts are single-valued, so two district lists combine exactly (intersection).
    A friend chooses several topics, so two topic lists cannot be combined exactly in one
    spec; their intersection is used, which is stricter than "one of each" — it may leave
    out a friend, never add one.
    """
    if local is None:
        return spec
    changes: dict[str, Any] = {"linked_only": spec.linked_only or local.linked_only}
    for name in ("interests", "districts"):
        theirs: list[str] | None = getattr(local, name)
        ours: list[str] | None = getattr(spec, name)
        if theirs is None:
            continue
        if ours is None:
            changes[name] = list(theirs)
        else:
            both = [value for value in ours if value in set(theirs)]
            changes[name] = both
    return spec.model_copy(update=changes)
