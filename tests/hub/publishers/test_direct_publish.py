"""The direct publish path (hub/publishers/direct.py) answers what the GraphQL path answers for
the same request, and leaves every other document to the GraphQL path."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSchema, parse

from hub.graphql.schema import build_schema
from hub.publishers.direct import MAX_PUBLISHES, DirectPublish, plan_of
from hub.state import HubState
from tests.hub.helpers import PUBLISH, HubApi, follow_up, make_notice, signed

SCHEMA: GraphQLSchema = build_schema()._schema

DOCUMENTS = [
    PUBLISH,
    """mutation P($e: SignedEnvelopeInput!) { publishNotice(envelope: $e) {
      __typename ... on PublishAccepted { seq } ... on PublishRejected { code message } } }""",
    """mutation Named($e: SignedEnvelopeInput!) { r: publishNotice(envelope: $e) {
      t: __typename ... on PublishRejected { m: message c: code }
      ... on PublishAccepted { d: duplicate receipt { payload __typename } noticeId } } }""",
    # not direct: a named fragment / an inline envelope object
    """mutation($e: SignedEnvelopeInput!) { publishNotice(envelope: $e) { ...R } }
      fragment R on PublishAccepted { seq }""",
]


def test_plans() -> None:
    assert plan_of(parse(DOCUMENTS[0])) is not None
    assert plan_of(parse(DOCUMENTS[2])) is not None
    assert plan_of(parse(DOCUMENTS[3])) is None
    inline = 'mutation { publishNotice(envelope: {protected: "a", payload: "b", signature: "c"}) { __typename } }'
    assert plan_of(parse(inline)) is None


def count_direct_answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """From now on, one entry per request the direct path saw: True if it answered."""
    served: list[bool] = []
    original = DirectPublish.answer

    async def counting(self: DirectPublish, *args: Any, **kwargs: Any) -> Any:
        result = await original(self, *args, **kwargs)
        served.append(result is not None)
        return result

    monkeypatch.setattr(DirectPublish, "answer", counting)
    return served


def only_graphql_path(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(self: DirectPublish, *args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(DirectPublish, "answer", never)


async def post(api: HubApi, query: str, envelope: dict[str, Any], name: str | None) -> Any:
    body: dict[str, Any] = {"query": query, "variables": {"e": envelope, "envelope": envelope}}
    if name is not None:
        body["operationName"] = name
    response = await api.http.post("/graphql", json=body)
    return response.status_code, response.json()


async def test_direct_answers_equal_the_graphql_path(
    api: HubApi, registered: HubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = signed(make_notice()).model_dump()
    bad = {**signed(make_notice()).model_dump(), "signature": "A" * 86}
    extra = {**first, "extra": "x"}  # an unknown input field: a GraphQL error either way
    cases = [
        (query, envelope, name)
        for query in DOCUMENTS
        for envelope in (first, bad, extra)
        for name in ((None, "Named") if "Named" in query else (None,))
    ]
    await post(api, PUBLISH, first, None)  # stored: the rest are duplicates or rejections
    served = count_direct_answers(monkeypatch)
    direct = [await post(api, *case) for case in cases]
    assert any(served) and not all(served)

    only_graphql_path(monkeypatch)
    reference = [await post(api, *case) for case in cases]
    for case, mine, theirs in zip(cases, direct, reference, strict=True):
        assert mine == theirs, case
    assert direct[0][1]["data"]["publishNotice"]["duplicate"] is True


BULK = """mutation Bulk($a: SignedEnvelopeInput!, $b: SignedEnvelopeInput!, $c: SignedEnvelopeInput!) {
  alert: publishNotice(envelope: $a) { __typename ... on PublishAccepted { seq duplicate } }
  update: publishNotice(envelope: $b) {
    __typename ... on PublishAccepted { seq } ... on PublishRejected { code } }
  again: publishNotice(envelope: $a) { ... on PublishAccepted { seq duplicate } } }"""


def bulk_variables() -> dict[str, Any]:
    alert = make_notice()
    alert_envelope = signed(alert)
    update_envelope = signed(follow_up(alert, alert_envelope))
    bad = {**signed(make_notice()).model_dump(), "signature": "A" * 86}
    return {"a": alert_envelope.model_dump(), "b": update_envelope.model_dump(), "c": bad}


async def test_a_bulk_publish_runs_its_fields_in_order_like_the_graphql_path(
    api: HubApi, registered: HubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several publishNotice fields in one request: the Update of the Alert before it is
    accepted, the repeated Alert is its duplicate — as GraphQL's serial execution gives."""
    query = BULK.replace(
        "}\n  again",
        "}\n  bad: publishNotice(envelope: $c) { ... on PublishRejected { code } }\n  again",
    )
    assert plan_of(parse(query)) is not None
    served = count_direct_answers(monkeypatch)
    first = bulk_variables()
    response = await api.http.post("/graphql", json={"query": query, "variables": first})
    assert served == [True]  # answered by the direct path
    assert response.status_code == 200
    data = response.json()["data"]
    assert data == {
        "alert": {"__typename": "PublishAccepted", "seq": 1, "duplicate": False},
        "update": {"__typename": "PublishAccepted", "seq": 2},
        "bad": {"code": "BAD_SIGNATURE"},
        "again": {"seq": 1, "duplicate": True},
    }

    only_graphql_path(monkeypatch)  # the same request, GraphQL path
    second = bulk_variables()
    reference = (await api.http.post("/graphql", json={"query": query, "variables": second})).json()
    assert reference["data"] == {
        "alert": {"__typename": "PublishAccepted", "seq": 3, "duplicate": False},
        "update": {"__typename": "PublishAccepted", "seq": 4},
        "bad": {"code": "BAD_SIGNATURE"},
        "again": {"seq": 3, "duplicate": True},
    }


def test_bulk_plans_have_a_limit_and_distinct_keys() -> None:
    fields = " ".join(
        f"p{i}: publishNotice(envelope: $e) {{ __typename }}" for i in range(MAX_PUBLISHES + 1)
    )
    too_many = f"mutation($e: SignedEnvelopeInput!) {{ {fields} }}"
    assert plan_of(parse(too_many)) is None
    same_key = """mutation($e: SignedEnvelopeInput!) {
      publishNotice(envelope: $e) { __typename } publishNotice(envelope: $e) { __typename } }"""
    assert plan_of(parse(same_key)) is None
    mixed = """mutation($e: SignedEnvelopeInput!) {
      publishNotice(envelope: $e) { __typename } submitReport(envelope: $e) { __typename } }"""
    assert plan_of(parse(mixed)) is None
