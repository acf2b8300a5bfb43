"""GraphQL query ``deliveryReports``: the cross-municipality view of one notice."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from hub.graphql.context import Info
from hub.stats.schemas import DeliveryReportsType
from hub.stats.service import ViewRequestError, notice_reports


async def resolve_delivery_reports(
    info: Info, publisher: str, notice_id: str
) -> DeliveryReportsType:
    hub = info.context.hub
    try:
        async with hub.transaction() as session:
            view = await notice_reports(session, publisher=publisher, notice_id=notice_id)
    except ViewRequestError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code}) from exc
    return DeliveryReportsType.of(view)


@strawberry.type
class StatsQueries:
    delivery_reports: DeliveryReportsType = strawberry.field(
        resolver=resolve_delivery_reports,
        description=(
            "Delivery reports of one notice per phase and municipality (null where the node "
            "withheld a small count), with phase totals over published counts only: a total "
            "is complete only when no municipality withheld that count, otherwise it is a "
            "partial sum and says how many withheld it. Public, like the key set: reports are "
            "suppressed aggregates without personal data. NOT_FOUND for an unknown notice."
        ),
    )
