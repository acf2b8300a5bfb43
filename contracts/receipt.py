"""The hub's countersignature of an accepted notice (CONTRACT §5)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from contracts.fields import ContractModel, HubId, PositiveInt, PublisherId, Sha256Hex, Time, Ulid

RECEIPT_SCHEMA: Final = "todoke.receipt/1"


class Receipt(ContractModel):
    """``seq`` is the hub's gap-free sequence (from 1); ``digest`` the notice payload's SHA-256."""

    schema_: Literal["todoke.receipt/1"] = Field(default=RECEIPT_SCHEMA, alias="schema")
    hub: HubId
    seq: PositiveInt
    publisher: PublisherId
    notice_id: Ulid
    digest: Sha256Hex
    received_at: Time
