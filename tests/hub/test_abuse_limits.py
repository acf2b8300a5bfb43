"""GraphQL query limits through the API: depth, aliases, tokens, nesting, document length, cost
and fragment fan-out are refused with ``QUERY_TOO_COMPLEX`` (HTTP 200, no data) before anything
runs; introspection works but is counted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from hub.graphql.limits import QueryLimits
from hub.state import HubState
from tests.hub.helpers import HubApi, make_notice, signed

LIMITS = QueryLimits()


async def post(api: HubApi, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await api.http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_too_complex(body: dict[str, Any], detail: str) -> None:
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert detail in error["message"], error


def not_too_complex(body: dict[str, Any]) -> bool:
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors", [])]
    return "QUERY_TOO_COMPLEX" not in codes


def nested_introspection(levels: int) -> str:
    # __type(depth 1) > fields(2) > type(3) > ofType ... > name
    return (
        '{ __type(name: "Query") { fields { type { '
        + "ofType { " * levels
        + "name"
        + " }" * (levels + 3)
        + " }"
    )


async def test_ordinary_feed_query_is_within_limits(api: HubApi) -> None:
    body = await post(api, "{ keySet { protected payload signature } }")
    assert "errors" not in body


async def test_depth_over_the_limit_is_refused(api: HubApi) -> None:
    # 12 nested selections of real fields: refused before validation looks at the names.
    query = "{ notices { items { envelope { " + "a { " * 8 + "b" + " }" * 8 + " } } } }"
    assert_too_complex(await post(api, query), f"depth exceeds {LIMITS.max_depth}")


async def test_depth_at_the_limit_reaches_validation(api: HubApi) -> None:
    query = "{ notices { items { envelope { " + "a { " * 5 + "b" + " }" * 5 + " } } } }"  # 9
    body = await post(api, query)
    assert not_too_complex(body)
    assert "Cannot query field" in body["errors"][0]["message"]


async def test_standard_introspection_query_is_allowed(api: HubApi) -> None:
    body = await post(api, get_introspection_query(descriptions=True))
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_is_counted_in_the_depth_limit(api: HubApi) -> None:
    body = await post(api, nested_introspection(LIMITS.max_introspection_depth))
    assert_too_complex(body, f"introspection depth exceeds {LIMITS.max_introspection_depth}")
    body = await post(api, nested_introspection(LIMITS.max_introspection_depth - 5))
    assert "errors" not in body, body


@pytest.mark.parametrize(("count", "refused"), [(30, False), (31, True)])
async def test_alias_limit(api: HubApi, count: int, refused: bool) -> None:
    query = "{ " + " ".join(f"k{i}: keySet {{ protected }}" for i in range(count)) + " }"
    body = await post(api, query)
    if refused:
        assert_too_complex(body, "more than 30 aliases")
    else:
        assert "errors" not in body
        assert len(body["data"]) == count


async def test_aliases_inside_introspection_are_counted(api: HubApi) -> None:
    query = "{ __schema { " + " ".join(f"t{i}: types {{ name }}" for i in range(31)) + " } }"
    assert_too_complex(await post(api, query), "aliases")


async def test_token_limit(api: HubApi) -> None:
    # 2 braces + 1,998 names = 2,000 tokens (reaches validation) vs 2,001 (refused).
    body = await post(api, "{" + " a" * 1998 + " }")
    assert not_too_complex(body)
    too_many = "{" + " a" * 1999 + " }"
    assert_too_complex(await post(api, too_many), "more than 2000 tokens")


async def test_comment_flood_is_refused_by_the_parser_token_limit(api: HubApi) -> None:
    query = "{ __typename " + "#c\n" * 2500 + "}"
    body = await post(api, query)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


@pytest.mark.parametrize(
    "query",
    [
        "{" + "a {" * 1000 + "b" + "}" * 1001,
        "{ notices(first: " + "[" * 1000 + "1" + "]" * 1000 + ") { lastSeq } }",
        "{ notices(first: " + "{a: " * 500 + "1" + "}" * 500 + ") { lastSeq } }",
    ],
    ids=["selections", "lists", "objects"],
)
async def test_deep_nesting_is_refused_before_parsing(api: HubApi, query: str) -> None:
    assert_too_complex(await post(api, query), "nesting deeper than 64")


async def test_long_document_is_refused_and_large_values_go_in_variables(
    api: HubApi, registered: HubState
) -> None:
    envelope = signed(make_notice())
    literal = (
        f'{{protected: "{envelope.protected}", payload: "{envelope.payload}{"A" * 20_000}", '
        f'signature: "{envelope.signature}"}}'
    )
    body = await post(api, f"mutation {{ publishNotice(envelope: {literal}) {{ __typename }} }}")
    assert_too_complex(body, "longer than 20000 characters")
    result = await api.publish(envelope)  # the same size class via variables is fine
    assert result["__typename"] == "PublishAccepted"


async def test_cost_counts_page_sizes(api: HubApi) -> None:
    selection = "items { seq envelope { protected payload signature } receipt { protected } }"
    # one full page: 1 + 1000 * 7 = 7,001 <= 25,000
    body = await post(api, f"{{ notices(first: 1000) {{ {selection} }} }}")
    assert not_too_complex(body)
    # four aliased full pages: 28,004 > 25,000
    query = (
        "{ " + " ".join(f"p{i}: notices(first: 1000) {{ {selection} }}" for i in range(4)) + " }"
    )
    assert_too_complex(await post(api, query), "cost exceeds 25000")


async def test_cost_uses_variable_values(api: HubApi) -> None:
    selection = "items { seq envelope { protected payload signature } receipt { protected } }"
    query = (
        "query($n: Int!) { "
        + " ".join(f"p{i}: notices(first: $n) {{ {selection} }}" for i in range(4))
        + " }"
    )
    assert_too_complex(await post(api, query, {"n": 1000}), "cost exceeds")
    assert not_too_complex(await post(api, query, {"n": 10}))


async def test_fragment_fan_out_is_bounded(api: HubApi) -> None:
    # Each fragment spreads the next one twice: 2^40 selections if expanded naively.
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    query = "{ ...F0 } " + fragments + " fragment F40 on Query { __typename }"
    body = await post(api, query)
    assert_too_complex(body, "more than 10000 selections")


async def test_fragment_cycle_is_a_validation_error_not_a_hang(api: HubApi) -> None:
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    body = await post(api, query)
    assert body["data"] is None
    assert "within itself" in body["errors"][0]["message"]


async def test_limits_hold_for_get_requests(api: HubApi) -> None:
    query = "{ " + " ".join(f"k{i}: keySet {{ protected }}" for i in range(31)) + " }"
    response = await api.http.get("/graphql", params={"query": query})
    assert response.status_code == 200
    assert_too_complex(response.json(), "aliases")


async def test_limit_errors_never_500(api: HubApi) -> None:
    transport_errors: list[httpx.Response] = []
    for query in ["{" * 5000, "{ a" + "(x: 1)" * 3000 + " }", "query " + "$" * 3000]:
        response = await api.http.post("/graphql", json={"query": query})
        transport_errors.append(response)
    assert all(r.status_code < 500 for r in transport_errors)
    assert all(r.json()["errors"][0]["message"] for r in transport_errors)


# Regressions found by tests/hub/test_fuzz_graphql.py (each was an HTTP 500 or a non-GraphQL body).


@pytest.mark.parametrize("body", [b"null", b"5", b'"query"', b"true", b"1e999"])
async def test_json_body_that_is_not_an_object_is_400(api: HubApi, body: bytes) -> None:
    response = await api.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "JSON object" in error["message"]


async def test_get_with_scalar_variables_is_400(api: HubApi) -> None:
    response = await api.http.get(
        "/graphql", params={"query": "{ keySet { protected } }", "variables": "5"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_wrong_method_is_graphql_shaped_405(api: HubApi, method: str) -> None:
    response = await api.http.request(method, "/graphql", content=b"{}")
    assert response.status_code == 405
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["x-request-id"]


async def test_unknown_path_is_graphql_shaped_404(api: HubApi) -> None:
    response = await api.http.get("/no-such-path")
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_limits_still_apply_when_the_document_was_cached_as_valid(api: HubApi) -> None:
    selection = "items { seq envelope { protected payload signature } receipt { protected } }"
    query = (
        "query($n: Int!) { "
        + " ".join(f"p{i}: notices(first: $n) {{ {selection} }}" for i in range(4))
        + " }"
    )
    # the same text: parsed and validated once, then reused; the cost still follows $n
    assert not_too_complex(await post(api, query, {"n": 10}))
    assert not_too_complex(await post(api, query, {"n": 10}))
    assert_too_complex(await post(api, query, {"n": 1000}), "cost exceeds")


async def test_an_invalid_document_fails_validation_every_time(api: HubApi) -> None:
    query = "{ notices { items { seq noSuchField } } }"
    for _ in range(3):
        body = await post(api, query)
        assert body["data"] is None
        assert "noSuchField" in body["errors"][0]["message"]


async def test_a_cached_feed_query_returns_fresh_data(api: HubApi, registered: HubState) -> None:
    query = "{ notices(after: 0, first: 10) { lastSeq items { seq } } }"
    before = await post(api, query)
    assert before["data"]["notices"] == {"lastSeq": 0, "items": []}
    assert (await api.publish(signed(make_notice())))["__typename"] == "PublishAccepted"
    after = await post(api, query)
    assert after["data"]["notices"]["lastSeq"] == 1
    assert [item["seq"] for item in after["data"]["notices"]["items"]] == [1]
