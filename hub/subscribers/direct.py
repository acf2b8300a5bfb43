"""The direct feed path: the feed documents nodes send over and over, answered without the
generic GraphQL executor.

Every woken subscriber reads the feed within the same second, so a feed read has to be cheap.
Through strawberry a read cost ~6-8 ms of CPU (extension hooks, per-field resolution, two
transactions). ``DirectFeed`` answers a request itself when — and only when — the outcome is
certainly a successful read:

- the document (by its exact text, cached) lexes within the abuse limits, parses, validates
  against the schema, has one query operation and selects only ``notices``/``keySet`` and
  their plain fields (aliases allowed; no fragments, directives or duplicate keys);
- its variables are plain ``Int``s, the measured depth/cost is within the limits and the page
  arguments are in range;
- the client's *reads* token is available (taken here, exactly as the GraphQL path would);
- the bearer credential names an active subscriber (``FeedAuthenticator``: checked together
  with ``last_seq``, one query per batch of concurrent reads).

The page comes from the process's ``FeedWindows`` when the range is short (the fan-out case:
every woken subscriber reads the same window, loaded once), else from ``read_feed``.

In every other case ``None`` is returned — with any token taken here given back — and the
request goes through the full GraphQL path, which produces the usual answer (errors, 429,
UNAUTHENTICATED). A served answer is what the GraphQL path returns for the same request:
the same resolvers' data (``read_feed``, ``KeySetSigner``) in the selection's order, encoded
the same way (tests compare both paths on the same requests).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    IntValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
    validate,
)

from hub.graphql.limits import QueryLimits, TooComplex, measure, scan_source
from hub.publishers.models import StoredNotice
from hub.ratelimit import TokenBucketLimiter, client_key
from hub.state import HubState
from hub.subscribers.registry import FeedAuthenticator
from hub.subscribers.repository import FeedRepository
from hub.subscribers.service import (
    FeedPage,
    FeedRequestError,
    check_page_request,
    page_of_window,
    read_feed,
)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
PLAN_CACHE_SIZE = 128

# type -> field -> child type (None: a leaf)
_FIELDS: dict[str, dict[str, str | None]] = {
    "Query": {"notices": "NoticeFeed", "keySet": "SignedEnvelope", "__typename": None},
    "NoticeFeed": {
        "items": "FeedItem",
        "lastSeq": None,
        "hasMore": None,
        "scannedTo": None,
        "__typename": None,
    },
    "FeedItem": {
        "seq": None,
        "envelope": "SignedEnvelope",
        "receipt": "SignedEnvelope",
        "status": None,
        "expired": None,
        "__typename": None,
    },
    "SignedEnvelope": {"protected": None, "payload": None, "signature": None, "__typename": None},
}
_ARGUMENT_DEFAULTS = {"after": 0, "first": 100}  # notices(after: Int! = 0, first: Int! = 100)


@dataclass(frozen=True)
class Selection:
    key: str  # the response key (alias or name)
    name: str
    type_name: str | None  # the selected object type, None for a leaf
    children: tuple[Selection, ...]


@dataclass(frozen=True)
class Argument:
    constant: int | None = None
    variable: str | None = None


@dataclass(frozen=True)
class FeedPlan:
    operation_name: str | None
    document: DocumentNode
    selections: tuple[Selection, ...]
    arguments: dict[str, Argument]  # of ``notices``: after, first
    variable_defaults: dict[str, int]


def _selections(selection_set: SelectionSetNode, type_name: str) -> tuple[Selection, ...] | None:
    fields = _FIELDS[type_name]
    result: list[Selection] = []
    keys: set[str] = set()
    for node in selection_set.selections:
        if not isinstance(node, FieldNode) or node.directives:
            return None
        name = node.name.value
        if name not in fields:
            return None
        key = node.alias.value if node.alias is not None else name
        if key in keys:
            return None
        keys.add(key)
        child_type = fields[name]
        if (child_type is None) != (node.selection_set is None):
            return None
        if node.arguments and not (type_name == "Query" and name == "notices"):
            return None
        children: tuple[Selection, ...] = ()
        if child_type is not None and node.selection_set is not None:
            nested = _selections(node.selection_set, child_type)
            if nested is None:
                return None
            children = nested
        result.append(Selection(key=key, name=name, type_name=child_type, children=children))
    return tuple(result)


def plan_of(document: DocumentNode) -> FeedPlan | None:
    """The plan of a document the direct path can answer (already validated), else None."""
    if len(document.definitions) != 1:
        return None
    operation = document.definitions[0]
    if (
        not isinstance(operation, OperationDefinitionNode)
        or operation.operation is not OperationType.QUERY
        or operation.directives
    ):
        return None
    defaults: dict[str, int] = {}
    for definition in operation.variable_definitions or ():
        type_node = definition.type
        if isinstance(type_node, NonNullTypeNode):
            type_node = type_node.type
        if not isinstance(type_node, NamedTypeNode) or type_node.name.value != "Int":
            return None
        if definition.directives:
            return None
        if definition.default_value is not None:
            if not isinstance(definition.default_value, IntValueNode):
                return None
            defaults[definition.variable.name.value] = int(definition.default_value.value)
    selections = _selections(operation.selection_set, "Query")
    if selections is None:
        return None
    arguments: dict[str, Argument] = {}
    for node in operation.selection_set.selections:
        if not isinstance(node, FieldNode) or node.name.value != "notices":
            continue
        if arguments:  # ``notices`` twice (under two aliases)
            return None
        arguments = {name: Argument(constant=value) for name, value in _ARGUMENT_DEFAULTS.items()}
        for argument in node.arguments or ():
            value = argument.value
            if isinstance(value, IntValueNode):
                arguments[argument.name.value] = Argument(constant=int(value.value))
            elif isinstance(value, VariableNode):
                arguments[argument.name.value] = Argument(variable=value.name.value)
            else:
                return None
    name = operation.name.value if operation.name is not None else None
    return FeedPlan(
        operation_name=name,
        document=document,
        selections=selections,
        arguments=arguments,
        variable_defaults=defaults,
    )


def _render(selections: tuple[Selection, ...], type_name: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for selection in selections:
        if selection.name == "__typename":
            out[selection.key] = type_name
            continue
        child = value[selection.name]
        if selection.type_name is None:
            out[selection.key] = child
        elif isinstance(child, list):
            out[selection.key] = [
                _render(selection.children, selection.type_name, entry) for entry in child
            ]
        else:
            out[selection.key] = _render(selection.children, selection.type_name, child)
    return out


def _envelope(envelope: Any) -> dict[str, str]:
    return {
        "protected": envelope.protected,
        "payload": envelope.payload,
        "signature": envelope.signature,
    }


def _page_value(page: FeedPage) -> dict[str, Any]:
    return {
        "items": [
            {
                "seq": item.seq,
                "envelope": _envelope(item.envelope),
                "receipt": _envelope(item.receipt),
                "status": item.status,
                "expired": item.expired,
            }
            for item in page.items
        ],
        "lastSeq": page.last_seq,
        "hasMore": page.has_more,
        "scannedTo": page.scanned_to,
    }


class DirectFeed:
    """One per GraphQL router (so per app): plans by query text, the limits and the reads
    budget of the schema's abuse guard."""

    def __init__(
        self, *, schema: GraphQLSchema, limits: QueryLimits, reads: TokenBucketLimiter | None
    ) -> None:
        self.schema = schema
        self.limits = limits
        self.reads = reads
        self._plans: OrderedDict[str, FeedPlan | None] = OrderedDict()
        self.authenticator = FeedAuthenticator()
        self.served = 0

    def plan(self, query: str) -> FeedPlan | None:
        if query in self._plans:
            self._plans.move_to_end(query)
            return self._plans[query]
        plan: FeedPlan | None = None
        try:
            scan_source(query, self.limits)
            document = parse(query, max_tokens=self.limits.max_tokens)
            if not validate(self.schema, document):
                plan = plan_of(document)
        except (TooComplex, GraphQLError, RecursionError):
            plan = None
        self._plans[query] = plan
        while len(self._plans) > PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    def _arguments(self, plan: FeedPlan, variables: Mapping[str, Any]) -> dict[str, int] | None:
        values: dict[str, int] = {}
        for name, argument in plan.arguments.items():
            value: object = argument.constant
            if argument.variable is not None:
                value = variables.get(
                    argument.variable, plan.variable_defaults.get(argument.variable)
                )
            if not isinstance(value, int) or isinstance(value, bool):
                return None
            if not INT_MIN <= value <= INT_MAX:
                return None
            values[name] = value
        return values

    async def answer(
        self,
        hub: HubState,
        *,
        body: Mapping[str, Any],
        authorization: str | None,
        client_ip: str | None,
    ) -> dict[str, Any] | None:
        """The response document for a request body, or None: use the GraphQL path."""
        query = body.get("query")
        variables = body.get("variables")
        operation_name = body.get("operationName")
        if not isinstance(query, str) or body.get("extensions") is not None:
            return None
        if variables is None:
            variables = {}
        if not isinstance(variables, dict) or not (
            operation_name is None or isinstance(operation_name, str)
        ):
            return None
        if not authorization:
            return None
        plan = self.plan(query)
        if plan is None or (operation_name is not None and operation_name != plan.operation_name):
            return None
        arguments = self._arguments(plan, variables)
        if plan.arguments and arguments is None:
            return None
        try:
            measure(plan.document, variables=variables, limits=self.limits)
            if arguments:
                check_page_request(after=arguments["after"], first=arguments["first"])
        except (TooComplex, FeedRequestError):
            return None
        key = client_key(authorization=authorization, client_ip=client_ip)
        if self.reads is not None and not self.reads.take(key).allowed:
            return None  # refused: the GraphQL path refuses it too, with its 429
        try:
            data = await self._read(hub, plan, arguments, authorization)
        except Exception:  # e.g. the database is away: the GraphQL path reports it its way
            data = None
        if data is None:
            if self.reads is not None:
                self.reads.refund(key)
            return None
        self.served += 1
        return {"data": data}

    async def _read(
        self,
        hub: HubState,
        plan: FeedPlan,
        arguments: dict[str, int] | None,
        authorization: str,
    ) -> dict[str, Any] | None:
        now = hub.clock.now()
        subscriber, last_seq = await self.authenticator.check(
            hub.transaction, authorization=authorization
        )
        if subscriber is None or last_seq is None:
            return None
        value: dict[str, Any] = {}
        if arguments:
            after, first = arguments["after"], arguments["first"]
            windows = hub.fanout.feed_windows
            page: FeedPage
            if windows.covers(after=after, up_to=last_seq):
                up_to = last_seq

                async def load() -> list[tuple[StoredNotice, list[str]]]:
                    async with hub.transaction() as session:
                        return await FeedRepository(session).window(after=after, up_to=up_to)

                rows = await windows.rows(load, after=after, up_to=up_to)
                page = page_of_window(
                    rows, municipality=subscriber.municipality, first=first, last_seq=up_to, now=now
                )
            else:
                async with hub.transaction() as session:
                    page = await read_feed(
                        session,
                        municipality=subscriber.municipality,
                        after=after,
                        first=first,
                        now=now,
                        last_seq=last_seq,
                    )
            value["notices"] = _page_value(page)
        if any(selection.name == "keySet" for selection in plan.selections):
            async with hub.transaction() as session:
                value["keySet"] = _envelope(await hub.keyset_signer.current(session, now=now))
        return _render(plan.selections, "Query", value)
