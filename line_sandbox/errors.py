"""LINE's error responses: ``{"message": ..., "details": [{"message", "property"}]}``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AUTH_FAILED = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
MONTHLY_LIMIT = "You have reached your monthly limit."
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
RETRY_KEY_INVALID = "The value for the 'X-Line-Retry-Key' header is invalid"
RETRY_KEY_NOT_ALLOWED = "The 'X-Line-Retry-Key' header is not supported by this API"
TOO_LARGE = "Request Entity Too Large"
NOT_FOUND = "Not found"
REPLY_REJECTED = "Invalid reply token"
SERVER_ERROR = "An unexpected error occurred"


@dataclass(frozen=True)
class Detail:
    message: str
    property: str


@dataclass
class LineApiError(Exception):
    """An expected failure, rendered as LINE renders it."""

    status: int
    message: str
    details: list[Detail] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.details:
            out["details"] = [{"message": d.message, "property": d.property} for d in self.details]
        out.update(self.extra)
        return out


def invalid_property(prop: str) -> LineApiError:
    return LineApiError(
        400, f"The property, '{prop}', in the request body is invalid (line: -, column: -)"
    )


def body_errors(details: list[Detail]) -> LineApiError:
    return LineApiError(400, f"The request body has {len(details)} error(s)", details)
