"""GraphQL types shared by the hub's domains (shapes fixed by the common API)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from contracts.jws import SignedEnvelope as WireEnvelope


@strawberry.enum(name="RejectionCode")
class RejectionCodeType(Enum):
    """Mirrors ``contracts.errors.RejectionCode`` (a test keeps the two equal)."""

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


@strawberry.input(name="SignedEnvelopeInput")
class SignedEnvelopeInput:
    protected: str
    payload: str
    signature: str


@strawberry.type(name="SignedEnvelope")
class SignedEnvelopeType:
    protected: str
    payload: str
    signature: str

    @classmethod
    def of(cls, envelope: WireEnvelope) -> SignedEnvelopeType:
        return cls(
            protected=envelope.protected, payload=envelope.payload, signature=envelope.signature
        )


@strawberry.type(name="PublishAccepted")
class PublishAcceptedType:
    seq: int
    publisher: str
    notice_id: str
    digest: str
    duplicate: bool
    receipt: SignedEnvelopeType


@strawberry.type(name="PublishRejected")
class PublishRejectedType:
    code: RejectionCodeType
    message: str


PublishNoticeResult = Annotated[
    PublishAcceptedType | PublishRejectedType, strawberry.union("PublishNoticeResult")
]


@strawberry.type(name="FeedItem")
class FeedItemType:
    seq: int
    envelope: SignedEnvelopeType
    receipt: SignedEnvelopeType
    status: str = strawberry.field(
        description="Actual | Exercise | Test, copied from the notice; only Actual reaches residents."
    )
    expired: bool = strawberry.field(description="The notice's expires is at or before hub now.")


@strawberry.type(name="NoticeFeed")
class NoticeFeedType:
    items: list[FeedItemType]
    last_seq: int
    has_more: bool
    scanned_to: int = strawberry.field(
        description="The highest seq examined for this page (>= every returned seq; = lastSeq "
        "when hasMore is false). Notices of other areas are skipped: move the cursor here."
    )


@strawberry.type(name="NoticeHint")
class NoticeHintType:
    """A wake-up hint: a notice covering the subscriber was accepted. Read the feed."""

    seq: int
