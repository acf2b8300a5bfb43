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
from hub.subscribers.service import index_notice_areas


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
        new_areas: list[str] | None = None
        if isinstance(result, PublishAccepted) and not result.duplicate:
            # area index + (PostgreSQL) NOTIFY, both part of the publishing transaction
            new_areas = await index_notice_areas(session, seq=result.seq, payload=envelope.payload)
            await hub.fanout.in_transaction(session, seq=result.seq)
    if isinstance(result, PublishAccepted):
        if new_areas is not None:  # committed: wake live subscribers (SQLite: this process)
            hub.fanout.committed(seq=result.seq, areas=new_areas)
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
