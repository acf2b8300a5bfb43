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
from hub.publishers.batch import PublishBatcher, app_batcher
from hub.publishers.schemas import EnvelopeStrings, PublishAccepted, PublishResult
from hub.publishers.service import publish_notice
from hub.state import HubState
from hub.subscribers.service import index_notice_areas


def publish_batcher(info: Info) -> PublishBatcher | None:
    """This app's group-commit batcher (kept on ``app.state``), None without a request."""
    request = info.context.request
    if request is None:
        return None
    return app_batcher(request.app.state)


async def _publish_alone(hub: HubState, envelope: EnvelopeStrings) -> PublishResult:
    async with hub.transaction() as session:
        result = await publish_notice(
            session, envelope=envelope, identity=hub.identity, now=hub.clock.now()
        )
        new_areas: list[str] | None = None
        if isinstance(result, PublishAccepted) and not result.duplicate:
            # area index + (PostgreSQL) NOTIFY, both part of the publishing transaction
            new_areas = await index_notice_areas(session, seq=result.seq, payload=envelope.payload)
            await hub.fanout.in_transaction(session, seq=result.seq, areas=new_areas)
    if isinstance(result, PublishAccepted) and new_areas is not None:
        hub.fanout.committed(seq=result.seq, areas=new_areas)  # SQLite: this process
    return result


async def resolve_publish_notice(info: Info, envelope: SignedEnvelopeInput) -> PublishNoticeResult:
    hub = info.context.hub
    strings = EnvelopeStrings(
        protected=envelope.protected, payload=envelope.payload, signature=envelope.signature
    )
    batcher = publish_batcher(info)
    if batcher is not None:  # group commit with concurrent publishes (hub/publishers/batch.py)
        result = await batcher.publish(hub, strings)
    else:
        result = await _publish_alone(hub, strings)
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
