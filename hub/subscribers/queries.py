"""GraphQL queries of subscribers: the notice feed and the signed key set."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from hub.graphql.context import Info
from hub.graphql.types import FeedItemType, NoticeFeedType, SignedEnvelopeType
from hub.subscribers.service import MAX_PAGE, FeedRequestError, read_feed


async def resolve_notices(info: Info, after: int = 0, first: int = 100) -> NoticeFeedType:
    hub = info.context.hub
    try:
        async with hub.transaction() as session:
            page = await read_feed(session, after=after, first=first)
    except FeedRequestError as exc:
        raise GraphQLError(exc.message, extensions={"code": "BAD_USER_INPUT"}) from exc
    return NoticeFeedType(
        items=[
            FeedItemType(
                seq=item.seq,
                envelope=SignedEnvelopeType.of(item.envelope),
                receipt=SignedEnvelopeType.of(item.receipt),
            )
            for item in page.items
        ],
        last_seq=page.last_seq,
        has_more=page.has_more,
    )


async def resolve_key_set(info: Info) -> SignedEnvelopeType:
    hub = info.context.hub
    async with hub.transaction() as session:
        envelope = await hub.keyset_signer.current(session, now=hub.clock.now())
    return SignedEnvelopeType.of(envelope)


@strawberry.type
class SubscriberQueries:
    notices: NoticeFeedType = strawberry.field(
        resolver=resolve_notices,
        description=f"Accepted notices with seq > after, in seq order; first is 1..{MAX_PAGE}.",
    )
    key_set: SignedEnvelopeType = strawberry.field(
        resolver=resolve_key_set,
        description="The current key set, signed by the hub root key.",
    )
