from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from municipal_node.linking.service import MAX_PER_ISSUE, MAX_VALID_DAYS


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resident_ids: list[str] = Field(min_length=1, max_length=MAX_PER_ISSUE)
    valid_days: int | None = Field(default=None, ge=1, le=MAX_VALID_DAYS)


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: None = every unused code of the issue
    resident_ids: list[str] | None = Field(default=None, max_length=MAX_PER_ISSUE)


def validation_problems(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]
