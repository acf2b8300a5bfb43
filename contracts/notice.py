"""The notice (CONTRACT §2): the signed payload a publisher sends through the hub.

``Notice`` enforces the shape of a notice. Rules that relate a notice to OTHER notices are not
schema rules: "references name the same publisher and the same ``document_id``" and "revision
greater than the referenced revision" are the lifecycle rules of CONTRACT §3, answered with
``BAD_REFERENCE`` / ``STALE_REVISION`` by whoever holds the referenced notices (the hub when
publishing, the node when relaying). "``sent`` at most 5 minutes ahead of the verifier's
clock" needs ``now`` (``contracts.verify.verify_notice``).
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError, model_validator

from contracts.canonical import Parsed
from contracts.errors import ContractError, RejectionCode
from contracts.fields import (
    AreaCode,
    ContractModel,
    Count,
    Headline,
    PositiveInt,
    ProgramCode,
    PublisherId,
    Sha256Hex,
    Text64,
    Text200,
    Text1000,
    Time,
    Ulid,
)

NOTICE_SCHEMA: Final = "todoke.notice/1"
HEADLINE_MAX = 60
BODY_MAX = 1000


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class Status(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    TEST = "Test"


class Category(StrEnum):
    BENEFIT = "benefit"
    PROCEDURE = "procedure"
    REGULATION = "regulation"
    HEALTH = "health"
    EVENT = "event"


class HouseholdType(StrEnum):
    SINGLE_PARENT = "single_parent"
    CHILD_REARING = "child_rearing"
    PREGNANT = "pregnant"
    ELDERLY = "elderly"
    DISABILITY = "disability"


class SchoolGrade(StrEnum):
    NURSERY = "nursery"
    KINDERGARTEN = "kindergarten"
    ES1_ENTRANT = "es1_entrant"
    ES1 = "es1"
    ES2 = "es2"
    ES3 = "es3"
    ES4 = "es4"
    ES5 = "es5"
    ES6 = "es6"
    JH1 = "jh1"
    JH2 = "jh2"
    JH3 = "jh3"
    HS1 = "hs1"
    HS2 = "hs2"
    HS3 = "hs3"


# What str.isspace() calls whitespace, and the C0 controls.
_URL_SPACE_OR_CONTROL = re.compile(
    "[\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


def _https(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not value.startswith("https://") or not parts.hostname:
        raise ValueError("url must be https:// with a host")
    if _URL_SPACE_OR_CONTROL.search(value) is not None:
        raise ValueError("url must not contain whitespace or control characters")
    return value


HttpsUrl = Annotated[
    str,
    Field(min_length=9, max_length=2000, json_schema_extra={"pattern": "^https://"}),
    AfterValidator(_https),
]


class Reference(ContractModel):
    publisher: PublisherId
    notice_id: Ulid
    revision: PositiveInt
    digest: Sha256Hex


class Program(ContractModel):
    code: ProgramCode
    name: Text200
    legal_basis: Text200 | None = None


class AgeRange(ContractModel):
    """Child age in whole months on ``effective``, both ends inclusive."""

    min: Count
    max: Count

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min > self.max:
            raise ValueError("child_age_months: min must be <= max")
        return self


class Audience(ContractModel):
    """Targeting criteria (AND across members, OR within a list). Never personal data.

    An absent member does not restrict; a present list must be non-empty.
    """

    household: list[HouseholdType] | None = Field(default=None, min_length=1)
    child_age_months: AgeRange | None = None
    school_grade: list[SchoolGrade] | None = Field(default=None, min_length=1)
    programs: list[ProgramCode] | None = Field(default=None, min_length=1)
    interests: list[Text64] | None = Field(default=None, min_length=1)


class Action(ContractModel):
    """The application window and how to apply."""

    opens: Time | None = None
    closes: Time | None = None
    how_to_apply: Text1000 | None = None
    url: HttpsUrl | None = None

    @model_validator(mode="after")
    def _window(self) -> Action:
        if self.opens is not None and self.closes is not None and not self.opens < self.closes:
            raise ValueError("action: opens must be before closes")
        return self


class LocalizedText(ContractModel):
    headline: Headline
    body: Text1000


class Content(ContractModel):
    ja: LocalizedText
    en: LocalizedText | None = None


class Notice(ContractModel):
    """A notice, closed and validated per CONTRACT §2 (see the module docstring for what is not)."""

    schema_: Literal["todoke.notice/1"] = Field(alias="schema")
    publisher: PublisherId
    notice_id: Ulid
    document_id: Ulid
    revision: PositiveInt
    msg_type: MsgType
    references: list[Reference] = Field(default_factory=list)
    status: Status
    sent: Time
    effective: Time
    expires: Time
    category: Category
    program: Program
    area: list[AreaCode] = Field(min_length=1)
    audience: Audience
    action: Action | None = None
    content: Content
    cancel_reason: Text1000 | None = None

    @model_validator(mode="after")
    def _rules(self) -> Notice:
        if self.msg_type is MsgType.ALERT:
            if self.references:
                raise ValueError("an Alert has no references")
            if self.revision != 1:
                raise ValueError("an Alert has revision 1")
        else:
            if not self.references:
                raise ValueError(f"an {self.msg_type.value} needs non-empty references")
        if (self.msg_type is MsgType.CANCEL) != (self.cancel_reason is not None):
            raise ValueError("cancel_reason is required for Cancel and absent otherwise")
        if not self.effective < self.expires:
            raise ValueError("effective must be before expires")
        if not self.sent < self.expires:
            raise ValueError("sent must be before expires")
        return self

    def to_payload(self) -> dict[str, Any]:
        """The wire object; an empty ``references`` is omitted (CONTRACT: absent or empty)."""
        payload = super().to_payload()
        if not payload.get("references"):
            payload.pop("references", None)
        return payload


def _reject_float(text_: str) -> Any:
    raise ValueError(f"float {text_} (the contract allows integers only)")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json_object(payload: bytes) -> dict[str, Any]:
    """Strict JSON: UTF-8, no floats, no NaN/Infinity, no duplicate members, an object at top."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate member {key!r}")
            result[key] = value
        return result

    value = json.loads(
        payload.decode("utf-8"),
        parse_float=_reject_float,
        parse_constant=_reject_constant,
        object_pairs_hook=unique,
    )
    if not isinstance(value, dict):
        raise ValueError("payload is not a JSON object")
    return value


def schema_error(exc: Exception) -> str:
    """A short, data-free description of a validation failure."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "$"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"
    return str(exc)


def json_object_of(payload: bytes, parsed: Parsed | None = None) -> dict[str, Any]:
    """``load_json_object(payload)``, reusing the value ``parse_canonical(payload)`` gave: canonical
    data has no duplicate members and no NaN, so an exact value (no float, no big integer) that is
    an object is the strict parse's result; anything else takes the strict parse and its error."""
    if parsed is not None and parsed.exact and isinstance(parsed.value, dict):
        return parsed.value
    return load_json_object(payload)


def parse_notice(payload: bytes, *, parsed: Parsed | None = None) -> Notice:
    """Parse and validate notice payload bytes; ``ContractError(SCHEMA_INVALID, reason)`` on failure.
    ``parsed``: what ``parse_canonical(payload)`` returned, when the caller has it."""
    try:
        return Notice.model_validate(json_object_of(payload, parsed))
    except (ValueError, RecursionError) as exc:
        raise ContractError(RejectionCode.SCHEMA_INVALID, schema_error(exc)) from exc
