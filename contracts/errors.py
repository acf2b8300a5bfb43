"""Machine-readable rejection codes of the wire contract (CONTRACT §3, §7)."""

from __future__ import annotations

from enum import StrEnum


class RejectionCode(StrEnum):
    """Every code a verifier or the hub can answer with; the value is the name."""

    BAD_ENVELOPE = "BAD_ENVELOPE"
    BAD_ALG = "BAD_ALG"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    KEY_NOT_VALID = "KEY_NOT_VALID"
    KEY_REVOKED = "KEY_REVOKED"
    WRONG_PUBLISHER = "WRONG_PUBLISHER"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    NOT_CANONICAL = "NOT_CANONICAL"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    SCOPE_DENIED = "SCOPE_DENIED"
    DUPLICATE = "DUPLICATE"
    EQUIVOCATION = "EQUIVOCATION"
    BAD_REFERENCE = "BAD_REFERENCE"
    STALE_REVISION = "STALE_REVISION"
    TOO_LARGE = "TOO_LARGE"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RATE_LIMITED = "RATE_LIMITED"


class ContractError(Exception):
    """An expected rejection: ``code`` is for machines, ``message`` for people (no personal data)."""

    def __init__(self, code: RejectionCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ContractError({self.code.value!r}, {self.message!r})"
