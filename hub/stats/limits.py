"""Rate limit of ``submitReport``: one token per field executed from the hub's *publish*
(write) budget, like ``publishNotice`` (hub/graphql/limits.py).

A report is made with a subscriber session, so an authenticated caller is keyed by its
credential (a shared node with many tenants behind one address gets a budget per tenant); a
caller without a valid credential is keyed by its IP, so random bearer values cannot mint fresh
buckets. Over budget: ``ReportRejected{code: RATE_LIMITED}`` and ``Retry-After``, before any
verification.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import isawaitable
from typing import Any

from graphql import GraphQLResolveInfo
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from contracts.errors import RejectionCode
from hub.graphql.context import HubContext
from hub.ratelimit import HubRateLimiter, client_key, ip_key
from hub.stats.mutations import rejected

FIELD = "submitReport"


class ReportGuard(SchemaExtension):
    def __init__(self, rate_limiter: HubRateLimiter | None) -> None:
        self.rate_limiter = rate_limiter

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if (
            self.rate_limiter is None
            or info.field_name != FIELD
            or info.parent_type.name != "Mutation"
            or not isinstance(info.context, HubContext)
        ):
            return _next(root, info, *args, **kwargs)
        return self._guarded(_next, root, info, *args, **kwargs)

    async def _guarded(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        context: HubContext = info.context
        request = context.request
        if (
            self.rate_limiter is not None
            and isinstance(request, HTTPConnection)
            and request.scope["type"] == "http"
        ):
            host = request.client.host if request.client else None
            authenticated = await context.find_subscriber() is not None
            key = (
                client_key(authorization=context.authorization, client_ip=host)
                if authenticated
                else ip_key(host)
            )
            decision = self.rate_limiter.publish.take(key)
            if not decision.allowed:
                if isinstance(context.response, Response):
                    context.response.headers["Retry-After"] = decision.retry_after_header
                return rejected(
                    RejectionCode.RATE_LIMITED,
                    "リクエストが多すぎます / too many report submissions; retry after "
                    f"{decision.retry_after_header} s",
                )
        result = _next(root, info, *args, **kwargs)
        if isawaitable(result):
            result = await result
        return result


def report_guard(rate_limiter: HubRateLimiter | None) -> Callable[[], SchemaExtension]:
    """A factory strawberry calls once per operation."""

    def factory() -> SchemaExtension:
        return ReportGuard(rate_limiter)

    return factory
