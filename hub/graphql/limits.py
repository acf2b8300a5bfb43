"""Abuse limits of the GraphQL API: query size, depth, aliases and cost, and rate limiting.

``AbuseGuard`` (a strawberry schema extension, one instance per operation) runs:

1. before parsing — the document length (``max_query_chars``: the lexer is pure Python), then
   a single pass of graphql-core's lexer over the source (iterative, no recursion) counts
   tokens (``max_tokens``) and bracket nesting (``max_nesting``, which
   keeps the recursive parser far from Python's recursion limit), and finds the operation
   kind; every request that is not a mutation or a subscription takes one token from the
   client's *reads* budget (documents that do not parse included). Over budget: a GraphQL
   error with ``extensions.code == "RATE_LIMITED"``, HTTP 429 and ``Retry-After``.
2. before validation — an iterative walk of the parsed document (fragments expanded, cycles
   cut) checks the depth (``max_depth``; introspection fields are counted too, against
   ``max_introspection_depth`` so the standard introspection query still works), the number
   of aliases (``max_aliases``), the number of selections visited (``max_nodes``, which bounds
   fragment fan-out) and the cost: each field costs the product of the page sizes (``first``,
   default 100 on ``notices``, a variable's value when given) of the list fields above it
   (``max_cost``).
3. while resolving — each ``publishNotice`` field takes one token from the client IP's
   *publish* budget; over budget it returns ``PublishRejected{code: RATE_LIMITED}`` without
   verifying anything.

Limit errors carry ``extensions.code == "QUERY_TOO_COMPLEX"`` (HTTP 200, ``data`` null).

Nodes send the same few documents over and over (the feed query, ``publishNotice``), and
graphql-core's parse + validation cost ~6 ms of the ~8 ms a feed read took. ``DocumentCache``
(one per schema, bounded LRU) keeps the parsed document of each query text that parsed and
the set of query texts that validated without errors. The limits above still run on every
request, *before* a cached document is reused: a cache hit skips only work whose result cannot
differ (parsing the same text; validating the same document against the same schema).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLResolveInfo,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.language import Lexer, Source, TokenKind
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from hub.graphql.context import HubContext
from hub.graphql.types import PublishRejectedType, RejectionCodeType
from hub.ratelimit import Decision, HubRateLimiter, client_key, ip_key

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
RATE_LIMITED = "RATE_LIMITED"
MAX_PAGE = 1000
DEFAULT_PAGES = {"notices": 100}  # list fields paged by ``first`` and their default page size

_OPENERS = frozenset({TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L})
_CLOSERS = frozenset({TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R})
_OPERATION_KEYWORDS = frozenset({"query", "mutation", "subscription"})


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 10
    max_introspection_depth: int = 20  # the standard introspection query needs 15
    max_aliases: int = 30
    max_tokens: int = 2000
    max_query_chars: int = 20_000  # the document text; large values belong in variables
    max_cost: int = 25_000
    max_nesting: int = 64
    max_nodes: int = 10_000


class TooComplex(Exception):
    def __init__(self, message: str, **details: int) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def graphql_error(self) -> GraphQLError:
        return GraphQLError(
            f"クエリが複雑すぎます / query too complex: {self.message}",
            extensions={"code": TOO_COMPLEX, **self.details},
        )


@dataclass
class SourceScan:
    tokens: int = 0
    operations: list[tuple[str, str | None]] = field(default_factory=list)

    def kind_of(self, operation_name: str | None) -> str:
        """The kind of the operation that would run (``query`` when unknown or ambiguous)."""
        if operation_name is not None:
            kinds = [kind for kind, name in self.operations if name == operation_name]
        else:
            kinds = [kind for kind, _ in self.operations]
        return kinds[0] if len(kinds) == 1 else "query"


def scan_source(query: str, limits: QueryLimits) -> SourceScan:
    """Count tokens and nesting without parsing; raise ``TooComplex`` over a limit.

    Lexical errors are left for the parser to report; the scan stops there.
    """
    scan = SourceScan()
    if len(query) > limits.max_query_chars:
        raise TooComplex(
            f"the document is longer than {limits.max_query_chars} characters "
            "(pass large values as variables)",
            max_query_chars=limits.max_query_chars,
        )
    lexer = Lexer(Source(query))
    nesting = 0
    at_definition_start = True
    awaiting_name = False
    try:
        while True:
            token = lexer.advance()
            kind = token.kind
            if kind is TokenKind.EOF:
                return scan
            scan.tokens += 1
            if scan.tokens > limits.max_tokens:
                raise TooComplex(
                    f"more than {limits.max_tokens} tokens", max_tokens=limits.max_tokens
                )
            if kind in _OPENERS:
                if nesting == 0:
                    if kind is TokenKind.BRACE_L and at_definition_start:
                        scan.operations.append(("query", None))
                    at_definition_start = awaiting_name = False
                nesting += 1
                if nesting > limits.max_nesting:
                    raise TooComplex(
                        f"nesting deeper than {limits.max_nesting}",
                        max_nesting=limits.max_nesting,
                    )
            elif kind in _CLOSERS:
                nesting = max(0, nesting - 1)
                if nesting == 0 and kind is TokenKind.BRACE_R:
                    at_definition_start = True
            elif nesting == 0:
                value = token.value if kind is TokenKind.NAME else None
                if awaiting_name and value is not None:
                    kind_, _ = scan.operations[-1]
                    scan.operations[-1] = (kind_, value)
                    awaiting_name = False
                elif at_definition_start and value in _OPERATION_KEYWORDS:
                    scan.operations.append((str(value), None))
                    awaiting_name = True
                    at_definition_start = False
                else:
                    at_definition_start = awaiting_name = False
    except GraphQLError:
        return scan


@dataclass
class Complexity:
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    nodes: int = 0


def _page_size(node: FieldNode, variables: Mapping[str, Any]) -> int:
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        size: object = MAX_PAGE
        if isinstance(value, IntValueNode):
            size = int(value.value)
        elif isinstance(value, VariableNode):
            size = variables.get(value.name.value, MAX_PAGE)
        if not isinstance(size, int) or isinstance(size, bool):
            return MAX_PAGE
        return min(MAX_PAGE, max(1, size))
    return DEFAULT_PAGES.get(node.name.value, 1)


def measure(
    document: DocumentNode, *, variables: Mapping[str, Any] | None, limits: QueryLimits
) -> Complexity:
    """Walk every operation of ``document`` (iteratively); raise ``TooComplex`` over a limit."""
    variables = variables or {}
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    result = Complexity()
    # (selection set, depth of its parent field, cost multiplier, inside introspection, fragments on the path)
    stack: list[tuple[SelectionSetNode, int, int, bool, frozenset[str]]] = [
        (d.selection_set, 0, 1, False, frozenset())
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    while stack:
        selection_set, depth, multiplier, introspection, visited = stack.pop()
        for selection in selection_set.selections:
            result.nodes += 1
            if result.nodes > limits.max_nodes:
                raise TooComplex(
                    f"more than {limits.max_nodes} selections", max_nodes=limits.max_nodes
                )
            if isinstance(selection, FieldNode):
                _visit_field(selection, depth, multiplier, introspection, result, limits)
                if selection.selection_set is not None:
                    stack.append(
                        (
                            selection.selection_set,
                            depth + 1,
                            multiplier * _page_size(selection, variables),
                            introspection or selection.name.value.startswith("__"),
                            visited,
                        )
                    )
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, depth, multiplier, introspection, visited))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in visited:
                    stack.append(
                        (fragment.selection_set, depth, multiplier, introspection, visited | {name})
                    )
    return result


def _visit_field(
    node: FieldNode,
    parent_depth: int,
    multiplier: int,
    introspection: bool,
    result: Complexity,
    limits: QueryLimits,
) -> None:
    depth = parent_depth + 1
    result.depth = max(result.depth, depth)
    if introspection or node.name.value.startswith("__"):
        if depth > limits.max_introspection_depth:
            raise TooComplex(
                f"introspection depth exceeds {limits.max_introspection_depth}",
                max_depth=limits.max_introspection_depth,
            )
    elif depth > limits.max_depth:
        raise TooComplex(f"depth exceeds {limits.max_depth}", max_depth=limits.max_depth)
    if node.alias is not None:
        result.aliases += 1
        if result.aliases > limits.max_aliases:
            raise TooComplex(
                f"more than {limits.max_aliases} aliases", max_aliases=limits.max_aliases
            )
    result.cost += multiplier
    if result.cost > limits.max_cost:
        raise TooComplex(
            f"cost exceeds {limits.max_cost} (each field costs the product of the page sizes "
            "above it)",
            max_cost=limits.max_cost,
        )


class DocumentCache:
    """Parsed documents by query text, and query texts known to validate (bounded LRU)."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._valid: OrderedDict[str, None] = OrderedDict()

    def document(self, query: str) -> DocumentNode | None:
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
        return document

    def remember_document(self, query: str, document: DocumentNode) -> None:
        self._documents[query] = document
        self._documents.move_to_end(query)
        while len(self._documents) > self.maxsize:
            self._documents.popitem(last=False)

    def is_valid(self, query: str) -> bool:
        if query in self._valid:
            self._valid.move_to_end(query)
            return True
        return False

    def remember_valid(self, query: str) -> None:
        self._valid[query] = None
        self._valid.move_to_end(query)
        while len(self._valid) > self.maxsize:
            self._valid.popitem(last=False)


class AbuseGuard(SchemaExtension):
    """See the module docstring. Built per operation by ``abuse_guard``'s factory."""

    def __init__(
        self,
        limits: QueryLimits,
        rate_limiter: HubRateLimiter | None,
        cache: DocumentCache | None = None,
    ) -> None:
        self.limits = limits
        self.rate_limiter = rate_limiter
        self.cache = cache

    def on_operation(self) -> Iterator[None]:
        # Backstop in the parser itself (this count includes comments).
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            try:
                scan = scan_source(context.query, self.limits)
            except TooComplex as exc:
                self._charge_reads()
                raise exc.graphql_error() from None
            if scan.kind_of(context.operation_name) not in ("mutation", "subscription"):
                self._charge_reads()
            if self.cache is not None:
                context.graphql_document = self.cache.document(context.query)
        yield
        if (
            self.cache is not None
            and context.query
            and context.graphql_document is not None
            and not context.pre_execution_errors
        ):
            self.cache.remember_document(context.query, context.graphql_document)
        for error in context.pre_execution_errors or ():
            if "tokens" in error.message and not error.extensions:
                error.extensions = {"code": TOO_COMPLEX, "max_tokens": self.limits.max_tokens}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            try:
                measure(context.graphql_document, variables=context.variables, limits=self.limits)
            except TooComplex as exc:
                context.pre_execution_errors = [exc.graphql_error()]
            else:
                if self.cache is not None and context.query and self.cache.is_valid(context.query):
                    context.pre_execution_errors = []  # validated before: strawberry skips it
        yield
        if self.cache is not None and context.query and context.pre_execution_errors == []:
            self.cache.remember_valid(context.query)

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if (
            self.rate_limiter is not None
            and info.field_name == "publishNotice"
            and info.parent_type.name == "Mutation"
        ):
            request = _http_request(info.context)
            if request is not None:
                host = request.client.host if request.client else None
                decision = self.rate_limiter.publish.take(ip_key(host))
                if not decision.allowed:
                    _set_retry_after(info.context, decision, status=None)
                    return PublishRejectedType(
                        code=RejectionCodeType.RATE_LIMITED,
                        message=_limited_message("publish", decision),
                    )
        return _next(root, info, *args, **kwargs)

    def _charge_reads(self) -> None:
        context = self.execution_context.context
        request = _http_request(context)
        if self.rate_limiter is None or request is None:
            return
        key = client_key(
            authorization=request.headers.get("authorization"),
            client_ip=request.client.host if request.client else None,
        )
        decision = self.rate_limiter.reads.take(key)
        if not decision.allowed:
            _set_retry_after(context, decision, status=429)
            raise GraphQLError(
                _limited_message("read", decision),
                extensions={"code": RATE_LIMITED, "retry_after": decision.retry_after_header},
            )


def _http_request(context: object) -> HTTPConnection | None:
    """The HTTP request behind the operation (None over WebSocket or without a context)."""
    if not isinstance(context, HubContext):
        return None
    request = context.request
    if isinstance(request, HTTPConnection) and request.scope["type"] == "http":
        return request
    return None


def _set_retry_after(context: object, decision: Decision, *, status: int | None) -> None:
    if isinstance(context, HubContext) and isinstance(context.response, Response):
        context.response.headers["Retry-After"] = decision.retry_after_header
        if status is not None:
            context.response.status_code = status


def _limited_message(budget: str, decision: Decision) -> str:
    return (
        f"リクエストが多すぎます / too many {budget} requests; "
        f"retry after {decision.retry_after_header} s"
    )


def abuse_guard(
    limits: QueryLimits,
    rate_limiter: HubRateLimiter | None,
    cache: DocumentCache | None = None,
) -> Callable[[], SchemaExtension]:
    """A factory strawberry calls once per operation."""

    def factory() -> SchemaExtension:
        return AbuseGuard(limits, rate_limiter, cache)

    return factory
