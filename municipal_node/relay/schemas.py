from __future__ import annotations

from dataclasses import dataclass

from contracts.jws import SignedEnvelope
from contracts.notice import Notice, parse_notice
from municipal_node.relay.models import StoredNotice


def envelope_of(value: dict[str, str]) -> SignedEnvelope:
    return SignedEnvelope(
        protected=value["protected"], payload=value["payload"], signature=value["signature"]
    )


def envelope_dict(envelope: SignedEnvelope) -> dict[str, str]:
    return {
        "protected": envelope.protected,
        "payload": envelope.payload,
        "signature": envelope.signature,
    }


def notice_of(stored: StoredNotice) -> Notice:
    """The notice as signed (re-parsed from the stored exact payload bytes)."""
    return parse_notice(envelope_of(stored.envelope).payload_bytes())


@dataclass(frozen=True)
class FeedItem:
    seq: int
    envelope: dict[str, str]
    receipt: dict[str, str]
    #: the hub's unsigned marks, for cross-checking only: the signed notice decides
    status: str
    expired: bool


@dataclass(frozen=True)
class FeedPage:
    keyset: dict[str, str]
    items: list[FeedItem]
    last_seq: int
    has_more: bool
    #: highest seq the hub examined for this page (≥ every item's seq); the next cursor
    scanned_to: int
