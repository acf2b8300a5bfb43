"""Results of the publisher services (plain data; the GraphQL layer renders them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.errors import RejectionCode
from contracts.jws import SignedEnvelope
from contracts.verify import VerifiedNotice


@dataclass(frozen=True)
class EnvelopeStrings:
    """The three strings of a received envelope, exactly as they arrived."""

    protected: str
    payload: str
    signature: str


@dataclass(frozen=True)
class PublishAccepted:
    seq: int
    publisher: str
    notice_id: str
    digest: str
    duplicate: bool
    receipt: SignedEnvelope


@dataclass(frozen=True)
class PublishRejected:
    code: RejectionCode
    message: str


PublishResult = PublishAccepted | PublishRejected


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    publisher: str
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None
    areas: tuple[str, ...]
    categories: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class PublisherInfo:
    id: str
    name: str
    keys: tuple[KeyInfo, ...]
    #: rotation problems an operator must see (``hub.publishers.rotation``)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Revocation:
    kid: str
    revoked_at: datetime
    #: False when the key already was revoked at or before the asked time (idempotent)
    changed: bool


@dataclass(frozen=True)
class VerifiedPublish:
    """A received envelope that passed CONTRACT §3 verification ``now``; not stored yet."""

    envelope: EnvelopeStrings
    verified: VerifiedNotice
    now: datetime


@dataclass(slots=True)
class NoticeRow:
    """A notice accepted in the batch being stored: the columns of ``notices`` (a plain object:
    building and reading ORM instances cost a tenth of a batch's CPU) plus its area codes.
    ``seq`` and the receipt are filled in under the sequence lock (``sequencing.assign``);
    ``seq`` 0 means not numbered yet."""

    publisher_id: str
    notice_id: str
    document_id: str
    revision: int
    msg_type: str
    status: str
    kid: str
    digest: str
    protected: str
    payload: str
    signature: str
    received_at: datetime
    areas: list[str]
    seq: int = 0
    receipt_protected: str = ""
    receipt_payload: str = ""
    receipt_signature: str = ""
