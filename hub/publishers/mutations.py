"""GraphQL mutations of publishers: thin — parse, call the service, render."""

from __future__ import annotations

import strawberry

from hub.graphql.context import Info
from hub.graphql.types import (
    PublishAcceptedType,
    PublishNoticeResult,
    PublishRejectedType,
    RejectionCodeType,
    SignedEnvelopeInput,
    SignedEnvelopeType,
)
from hub.publishers.schemas import EnvelopeStrings, PublishAccepted
from hub.publishers.service import publish_notice


async def resolve_publish_notice(info: Info, envelope: SignedEnvelopeInput) -> PublishNoticeResult:
    hub = info.context.hub
    async with hub.transaction() as session:
        result = await publish_notice(
            session,
            envelope=EnvelopeStrings(
                protected=envelope.protected,
                payload=envelope.payload,
                signature=envelope.signature,
            ),
            identity=hub.identity,
            now=hub.clock.now(),
        )
    if isinstance(result, PublishAccepted):
        return PublishAcceptedType(
            seq=result.seq,
            publisher=result.publisher,
            notice_id=result.notice_id,
            digest=result.digest,
            duplicate=result.duplicate,
            receipt=SignedEnvelopeType.of(result.receipt),
        )
    return PublishRejectedType(code=RejectionCodeType(result.code.value), message=result.message)


@strawberry.type
class PublisherMutations:
    publish_notice: PublishNoticeResult = strawberry.mutation(
        resolver=resolve_publish_notice,
        description="Verify and store a signed notice (CONTRACT §3); the signature is the authority.",
    )
