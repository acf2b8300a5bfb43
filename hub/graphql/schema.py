"""The hub's strawberry schema, and how it reports errors.

Expected errors (invalid queries, bad arguments) reach the client as they are. Anything else
is logged with the request id and answered with a generic message: internals never leak.
"""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from hub.graphql.context import HubContext
from hub.graphql.limits import DocumentCache, QueryLimits, abuse_guard
from hub.publishers.mutations import PublisherMutations
from hub.ratelimit import HubRateLimiter
from hub.stats.limits import report_guard
from hub.stats.mutations import StatsMutations
from hub.stats.queries import StatsQueries
from hub.stats.schemas import SCALARS as STATS_SCALARS
from hub.subscribers.live import SubscriberSubscriptions
from hub.subscribers.queries import SubscriberQueries

logger = logging.getLogger(__name__)

GENERIC_MESSAGE = "内部エラーが発生しました / internal error"


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpected(MaskErrors):
    """Replace unexpected errors by a generic message with code INTERNAL and the request id."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=GENERIC_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = context.request_id if isinstance(context, HubContext) else "-"
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL", "request_id": request_id},
        )


@strawberry.type
class Query(SubscriberQueries, StatsQueries):
    pass


@strawberry.type
class Mutation(PublisherMutations, StatsMutations):
    pass


@strawberry.type
class Subscription(SubscriberSubscriptions):
    pass


class HubSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context = execution_context.context if execution_context is not None else None
        request_id = context.request_id if isinstance(context, HubContext) else "-"
        for error in errors:
            if is_unexpected(error):
                logger.error(
                    "unexpected error request_id=%s path=%s",
                    request_id,
                    error.path,
                    exc_info=error.original_error,
                )
            else:
                logger.debug("graphql error request_id=%s: %s", request_id, error.message)


def build_schema(
    *, limits: QueryLimits | None = None, rate_limiter: HubRateLimiter | None = None
) -> strawberry.Schema:
    """The schema; ``limits``/``rate_limiter`` configure the abuse guard (hub/graphql/limits.py)."""
    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=STATS_SCALARS),
        extensions=[
            MaskUnexpected,
            abuse_guard(limits or QueryLimits(), rate_limiter, DocumentCache()),
            report_guard(rate_limiter),
        ],
    )
