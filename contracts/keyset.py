"""The hub's key set (CONTRACT §4): which publisher keys exist, when valid, for what scope."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from contracts.errors import ContractError
from contracts.fields import AreaCode, ContractModel, HubId, Kid, PublisherId, Time
from contracts.ids import publisher_of_kid
from contracts.keys import public_key_from_jwk
from contracts.notice import Category

KEYSET_SCHEMA: Final = "todoke.keyset/1"
MAX_KEYSET_VALIDITY = timedelta(days=7)
MAX_KEY_VALIDITY = timedelta(days=400)


def _valid_jwk(value: dict[str, str]) -> dict[str, str]:
    try:
        public_key_from_jwk(value)
    except ContractError as exc:
        raise ValueError(exc.message) from exc
    return value


Jwk = Annotated[
    dict[str, str],
    AfterValidator(_valid_jwk),
    WithJsonSchema(
        {
            "type": "object",
            "properties": {
                "kty": {"const": "OKP"},
                "crv": {"const": "Ed25519"},
                "x": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
            },
            "required": ["kty", "crv", "x"],
            "additionalProperties": False,
        }
    ),
]


class KeyScope(ContractModel):
    """Areas and categories a key may publish for (a notice must be covered entirely)."""

    area: list[AreaCode] = Field(min_length=1)
    category: list[Category] = Field(min_length=1)


class KeyEntry(ContractModel):
    """One publisher key: ``not_before <= t < not_after``, at most 400 days."""

    kid: Kid
    publisher: PublisherId
    jwk: Jwk
    not_before: Time
    not_after: Time
    revoked_at: Time | None = None
    scope: KeyScope

    @model_validator(mode="after")
    def _rules(self) -> KeyEntry:
        if publisher_of_kid(self.kid) != self.publisher:
            raise ValueError("publisher must be the kid's publisher")
        if not self.not_before < self.not_after:
            raise ValueError("not_before must be before not_after")
        if self.not_after - self.not_before > MAX_KEY_VALIDITY:
            raise ValueError("a key is valid for at most 400 days")
        return self


class KeySet(ContractModel):
    schema_: Literal["todoke.keyset/1"] = Field(default=KEYSET_SCHEMA, alias="schema")
    hub: HubId
    issued_at: Time
    valid_until: Time
    keys: list[KeyEntry]

    @model_validator(mode="after")
    def _rules(self) -> KeySet:
        if not self.issued_at < self.valid_until:
            raise ValueError("issued_at must be before valid_until")
        if self.valid_until - self.issued_at > MAX_KEYSET_VALIDITY:
            raise ValueError("valid_until must be at most 7 days after issued_at")
        kids = [key.kid for key in self.keys]
        if len(kids) != len(set(kids)):
            raise ValueError("kids must be unique")
        return self

    def is_current(self, now: datetime) -> bool:
        """``issued_at <= now < valid_until``."""
        return self.issued_at <= now < self.valid_until
