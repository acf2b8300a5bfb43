"""GraphQL queries of subscribers: the notice feed (subscribers only) and the signed key set
(public: it is signed public data)."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from hub.graphql.context import Info
from hub.graphql.types import FeedItemType, NoticeFeedType, SignedEnvelopeType
from hub.subscribers.service import MAX_PAGE, FeedRequestError, read_feed


async def resolve_notices(info: Info, after: int = 0, first: int = 100) -> NoticeFeedType:
    subscriber = await info.context.require_subscriber()  # before anything else is looked at
    hub = info.context.hub
    try:
        async with hub.transaction() as session:
            page = await read_feed(
                session,
                municipality=subscriber.municipality,
                after=after,
                first=first,
                now=hub.clock.now(),
                windows=hub.fanout.feed_windows,
            )
    except FeedRequestError as exc:
        raise GraphQLError(exc.message, extensions={"code": "BAD_USER_INPUT"}) from exc
    return NoticeFeedType(
        items=[
            FeedItemType(
                seq=item.seq,
                envelope=SignedEnvelopeType.of(item.envelope),
                receipt=SignedEnvelopeType.of(item.receipt),
                status=item.status,
                expired=item.expired,
            )
            for item in page.items
        ],
        last_seq=page.last_seq,
        has_more=page.has_more,
        scanned_to=page.scanned_to,
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
        description=(
            "Accepted notices covering the caller's municipality with seq > after, in seq "
            f"order; first is 1..{MAX_PAGE}. Needs Authorization: Bearer <subscriber credential>."
        ),
    )
    key_set: SignedEnvelopeType = strawberry.field(
        resolver=resolve_key_set,
        description="The current key set, signed by the hub root key.",
    )
