from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from municipal_node.recurring.schemas import Wording
from municipal_node.segments.schemas import ShownCount
from municipal_node.triggers.definitions import DEFINITIONS


class TriggerSettingIn(Wording):
    """Switch a date trigger on/off and set its wording (generic; ``{日付}`` not allowed)."""

    model_config = ConfigDict(extra="forbid")

    trigger: str = Field(min_length=1, max_length=32)
    enabled: bool = True

    @field_validator("trigger")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DEFINITIONS:
            known = "、".join(f"{code}（{d.label}）" for code, d in DEFINITIONS.items())
            raise ValueError(
                f"トリガー {value!r} はありません。使えるもの: {known} / unknown trigger "
                f"{value!r}; use one of {', '.join(DEFINITIONS)}"
            )
        return value


class TriggerOut(BaseModel):
    trigger: str
    label: str
    topic: str
    enabled: bool
    headline: str
    body: str
    url: str | None
    template_id: int | None
    mode: str
    updated_by: str | None
    updated_at: datetime | None
    #: children reached so far ("<10" below 10)
    fired: ShownCount
    #: when the next daily run is due (None when no trigger is on)
    next_run_at: datetime | None
