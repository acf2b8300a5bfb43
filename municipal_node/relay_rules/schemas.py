from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.fields import AreaCode, ProgramCode, PublisherId
from contracts.notice import Category
from municipal_node.relay_rules.models import MessageTemplate, RelayRule
from municipal_node.relay_rules.render import TemplateFields
from municipal_node.segments.spec import LocalCriteria

Mode = Literal["auto", "approval"]


def _optional(value: Any) -> Any:
    """``""`` (or only spaces) means "not set" for optional text fields."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _name(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("名前を入れてください / name must not be blank")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ValueError("名前に制御文字は使えません / name must not contain control characters")
    return text


class TemplateIn(BaseModel):
    """A template to save (checked by ``checks.check_template`` before it is)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=5000)
    button_label: str | None = Field(default=None, max_length=20)
    button_url: str | None = Field(default=None, max_length=2000)
    alt_text: str | None = Field(default=None, max_length=400)
    department: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=20)
    apply_url: str | None = Field(default=None, max_length=2000)

    @field_validator(
        "button_label",
        "button_url",
        "alt_text",
        "department",
        "phone",
        "apply_url",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return _optional(value)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _name(value)

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("本文を入れてください / text must not be blank")
        return value.replace("\r\n", "\n")

    def fields(self) -> TemplateFields:
        return TemplateFields(
            text=self.text,
            button_label=self.button_label,
            button_url=self.button_url,
            alt_text=self.alt_text,
            department=self.department,
            phone=self.phone,
            apply_url=self.apply_url,
        )


def template_fields(template: MessageTemplate) -> TemplateFields:
    return TemplateFields(
        text=template.text,
        button_label=template.button_label,
        button_url=template.button_url,
        alt_text=template.alt_text,
        department=template.department,
        phone=template.phone,
        apply_url=template.apply_url,
    )


class TemplateOut(BaseModel):
    id: int
    name: str
    text: str
    button_label: str | None
    button_url: str | None
    alt_text: str | None
    department: str | None
    phone: str | None
    apply_url: str | None
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, template: MessageTemplate) -> TemplateOut:
        return cls.model_validate(template, from_attributes=True)


class TemplatePreviewIn(BaseModel):
    """Render a saved template (``template_id``) or an unsaved one (``template``) — or the
    built-in default when neither is given — against ``notice`` (a contract notice JSON;
    default: a sample 児童扶養手当 notice)."""

    model_config = ConfigDict(extra="forbid")

    template_id: int | None = None
    template: TemplateIn | None = None
    notice: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_template(self) -> TemplatePreviewIn:
        if self.template_id is not None and self.template is not None:
            raise ValueError(
                "template_id と template はどちらか一方だけです / give template_id or template"
            )
        return self


class TemplatePreviewOut(BaseModel):
    messages: list[dict[str, Any]]
    text_units: int
    alt_text_units: int


def _not_empty(value: list[Any] | None) -> list[Any] | None:
    if value is not None and not value:
        raise ValueError(
            "空のリストは指定できません（条件を付けないときは null か省略） / an empty list "
            "matches nothing; leave the member out (null) to match any"
        )
    return None if value is None else list(dict.fromkeys(value))


class RuleIn(BaseModel):
    """A relay rule. Match lists: null (or absent) = any; a notice matches when every
    present list holds (publisher in ``publishers``, category in ``categories``, program code
    in ``program_codes``, one of its area codes in ``areas``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    priority: int = Field(default=100, ge=0, le=1_000_000)
    enabled: bool = True
    publishers: list[PublisherId] | None = None
    categories: list[Category] | None = None
    program_codes: list[ProgramCode] | None = None
    areas: list[AreaCode] | None = None
    segment_id: int | None = Field(default=None, ge=1)
    extra: LocalCriteria | None = None
    template_id: int | None = Field(default=None, ge=1)
    mode: Mode = "auto"
    two_person_threshold: int | None = Field(default=None, ge=0, le=100_000_000)
    #: 申請期間のある通知を「予告・受付開始・締切前リマインド」のキャンペーンとして送る
    campaign: bool = False

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _name(value)

    @field_validator("publishers", "categories", "program_codes", "areas")
    @classmethod
    def _lists(cls, value: list[Any] | None) -> list[Any] | None:
        return _not_empty(value)

    @model_validator(mode="after")
    def _threshold_needs_approval(self) -> RuleIn:
        if self.two_person_threshold is not None and self.mode != "approval":
            raise ValueError(
                "two_person_threshold（二人承認の件数）は mode が approval のときだけ指定できます"
                " / two_person_threshold needs mode approval"
            )
        return self


class RuleOut(BaseModel):
    id: int
    name: str
    priority: int
    enabled: bool
    publishers: list[str] | None
    categories: list[str] | None
    program_codes: list[str] | None
    areas: list[str] | None
    segment_id: int | None
    extra: dict[str, Any] | None
    template_id: int | None
    mode: str
    two_person_threshold: int | None
    campaign: bool
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rule: RelayRule) -> RuleOut:
        return cls.model_validate(rule, from_attributes=True)


class ApprovalOut(BaseModel):
    job_id: int
    state: str
    targeted: int
    approvals: int
    required: int
    approvers: list[str]
    released: bool
