"""The direct publish path: ``publishNotice`` documents answered without the generic GraphQL
executor (the counterpart of hub/subscribers/direct.py for ingest).

Through strawberry a publish spent most of its CPU outside publishing itself (the abuse
guard's lexer pass, parsing the variables, per-field extension hooks, the union's rendering).
``DirectPublish`` answers a request itself only when the outcome is a normal
``PublishNoticeResult``:

- the document (by its exact text, cached) lexes within the abuse limits, parses, validates,
  has one mutation operation whose fields are all ``publishNotice(envelope: $variable)``
  (aliases allowed; at most ``MAX_PUBLISHES`` of them: a publisher's bulk publish) selecting
  ``__typename`` and inline fragments on ``PublishAccepted`` / ``PublishRejected`` with their
  plain fields — no named fragments, directives or duplicate keys;
- every variable used is an object of exactly the three strings ``protected``, ``payload``,
  ``signature``; the measured cost is within the limits;
- the client IP has a *publish* token for every field (taken here, as the GraphQL path
  would).

Then the notices go, in field order, to the same ``PublishBatcher`` as the GraphQL path, and
the results are rendered in the selection's order. GraphQL executes a mutation's fields one
after the other; the batcher checks a batch's notices in arrival order, each against the ones
before it, so a request's Update of the Alert it carries earlier is accepted exactly as the
GraphQL path would accept it. In every other case ``None`` is returned and the request takes
the GraphQL path (errors, RATE_LIMITED with Retry-After, …).
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
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
    validate,
)

from hub.graphql.limits import QueryLimits, TooComplex, measure, scan_source
from hub.publishers.batch import PublishBatcher
from hub.publishers.schemas import EnvelopeStrings, PublishAccepted, PublishResult
from hub.ratelimit import TokenBucketLimiter, ip_key
from hub.state import HubState

PLAN_CACHE_SIZE = 64
MAX_PUBLISHES = 100  # fields of one request (a bulk publish); more take the GraphQL path
_ENVELOPE_FIELDS = ("protected", "payload", "signature")
_LEAVES: dict[str, frozenset[str]] = {
    "PublishAccepted": frozenset(
        {"seq", "publisher", "noticeId", "digest", "duplicate", "__typename"}
    ),
    "PublishRejected": frozenset({"code", "message", "__typename"}),
    "SignedEnvelope": frozenset({*_ENVELOPE_FIELDS, "__typename"}),
}


@dataclass(frozen=True)
class Leaf:
    key: str
    name: str
    children: tuple[Leaf, ...] = ()  # ``receipt { … }``


@dataclass(frozen=True)
class FieldPlan:
    key: str  # response key of this publishNotice
    variable: str
    # the union's selections in order: (type condition, leaves); None = ``__typename``
    parts: tuple[tuple[str | None, tuple[Leaf, ...]], ...]


@dataclass(frozen=True)
class PublishPlan:
    operation_name: str | None
    document: DocumentNode
    fields: tuple[FieldPlan, ...]


def _leaves(
    selection_set: SelectionSetNode, type_name: str, keys: set[str]
) -> tuple[Leaf, ...] | None:
    leaves: list[Leaf] = []
    allowed = _LEAVES[type_name]
    for node in selection_set.selections:
        if not isinstance(node, FieldNode) or node.directives or node.arguments:
            return None
        name = node.name.value
        key = node.alias.value if node.alias is not None else name
        if key in keys:
            return None
        keys.add(key)
        if type_name == "PublishAccepted" and name == "receipt":
            if node.selection_set is None:
                return None
            children = _leaves(node.selection_set, "SignedEnvelope", set())
            if children is None:
                return None
            leaves.append(Leaf(key=key, name=name, children=children))
            continue
        if name not in allowed or node.selection_set is not None:
            return None
        leaves.append(Leaf(key=key, name=name))
    return tuple(leaves)


def _field_plan(field: object) -> FieldPlan | None:
    if (
        not isinstance(field, FieldNode)
        or field.name.value != "publishNotice"
        or field.directives
        or field.selection_set is None
        or len(field.arguments or ()) != 1
    ):
        return None
    argument = (field.arguments or ())[0]
    if not isinstance(argument.value, VariableNode):
        return None
    keys: set[str] = set()
    parts: list[tuple[str | None, tuple[Leaf, ...]]] = []
    for node in field.selection_set.selections:
        if isinstance(node, FieldNode):
            if node.name.value != "__typename" or node.directives:
                return None
            key = node.alias.value if node.alias is not None else "__typename"
            if key in keys:
                return None
            keys.add(key)
            parts.append((None, (Leaf(key=key, name="__typename"),)))
        elif isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            if condition not in ("PublishAccepted", "PublishRejected") or node.directives:
                return None
            leaves = _leaves(node.selection_set, condition, keys)
            if leaves is None:
                return None
            parts.append((condition, leaves))
        else:
            return None
    return FieldPlan(
        key=field.alias.value if field.alias is not None else "publishNotice",
        variable=argument.value.name.value,
        parts=tuple(parts),
    )


def plan_of(document: DocumentNode) -> PublishPlan | None:
    """The plan of a (validated) document the direct path can answer, else None."""
    if len(document.definitions) != 1:
        return None
    operation = document.definitions[0]
    if (
        not isinstance(operation, OperationDefinitionNode)
        or operation.operation is not OperationType.MUTATION
        or operation.directives
        or not 1 <= len(operation.selection_set.selections) <= MAX_PUBLISHES
    ):
        return None
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None or definition.directives:
            return None
    fields: list[FieldPlan] = []
    for selection in operation.selection_set.selections:
        field = _field_plan(selection)
        if field is None or any(field.key == other.key for other in fields):
            return None
        fields.append(field)
    return PublishPlan(
        operation_name=operation.name.value if operation.name is not None else None,
        document=document,
        fields=tuple(fields),
    )


def _values(result: PublishResult) -> tuple[str, dict[str, Any]]:
    if isinstance(result, PublishAccepted):
        receipt = result.receipt
        return "PublishAccepted", {
            "seq": result.seq,
            "publisher": result.publisher,
            "noticeId": result.notice_id,
            "digest": result.digest,
            "duplicate": result.duplicate,
            "receipt": {
                "protected": receipt.protected,
                "payload": receipt.payload,
                "signature": receipt.signature,
                "__typename": "SignedEnvelope",
            },
        }
    return "PublishRejected", {"code": result.code.value, "message": result.message}


def render(plan: FieldPlan, result: PublishResult) -> dict[str, Any]:
    type_name, values = _values(result)
    values["__typename"] = type_name
    out: dict[str, Any] = {}
    for condition, leaves in plan.parts:
        if condition is not None and condition != type_name:
            continue
        for leaf in leaves:
            if leaf.children:
                nested = values[leaf.name]
                out[leaf.key] = {child.key: nested[child.name] for child in leaf.children}
            else:
                out[leaf.key] = values[leaf.name]
    return out


class DirectPublish:
    """One per GraphQL router: plans by query text, the limits and the publish budget of the
    schema's abuse guard."""

    def __init__(
        self, *, schema: GraphQLSchema, limits: QueryLimits, publish: TokenBucketLimiter | None
    ) -> None:
        self.schema = schema
        self.limits = limits
        self.publish = publish
        self._plans: OrderedDict[str, PublishPlan | None] = OrderedDict()
        self.served = 0

    def plan(self, query: str) -> PublishPlan | None:
        if query in self._plans:
            self._plans.move_to_end(query)
            return self._plans[query]
        plan: PublishPlan | None = None
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

    async def answer(
        self,
        hub: HubState,
        batcher: PublishBatcher,
        *,
        body: Mapping[str, Any],
        client_ip: str | None,
    ) -> dict[str, Any] | None:
        """The response document for a request body, or None: use the GraphQL path."""
        query = body.get("query")
        variables = body.get("variables")
        operation_name = body.get("operationName")
        if (
            not isinstance(query, str)
            or not query.lstrip().startswith("mutation")
            or body.get("extensions") is not None
            or not isinstance(variables, dict)
            or not (operation_name is None or isinstance(operation_name, str))
        ):
            return None
        plan = self.plan(query)
        if plan is None or (operation_name is not None and operation_name != plan.operation_name):
            return None
        envelopes: list[EnvelopeStrings] = []
        for field in plan.fields:
            envelope = variables.get(field.variable)
            if (
                not isinstance(envelope, dict)
                or set(envelope) != set(_ENVELOPE_FIELDS)
                or not all(isinstance(envelope[name], str) for name in _ENVELOPE_FIELDS)
            ):
                return None
            envelopes.append(
                EnvelopeStrings(
                    protected=envelope["protected"],
                    payload=envelope["payload"],
                    signature=envelope["signature"],
                )
            )
        try:
            measure(plan.document, variables=variables, limits=self.limits)
        except TooComplex:
            return None
        taken = 0
        if self.publish is not None:
            for _ in plan.fields:
                if not self.publish.take(ip_key(client_ip)).allowed:
                    self._refund(client_ip, taken)
                    return None  # refused: the GraphQL path answers RATE_LIMITED, Retry-After
                taken += 1
        try:
            results = await batcher.publish_many(hub, envelopes)
        except Exception:
            self._refund(client_ip, taken)
            return None  # the GraphQL path reports an unexpected failure its way
        self.served += 1
        return {
            "data": {
                field.key: render(field, result)
                for field, result in zip(plan.fields, results, strict=True)
            }
        }

    def _refund(self, client_ip: str | None, count: int) -> None:
        if self.publish is not None:
            for _ in range(count):
                self.publish.refund(ip_key(client_ip))
