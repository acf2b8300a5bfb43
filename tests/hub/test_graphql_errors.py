"""Bad requests get GraphQL-shaped errors, never a 500; internals never leak."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub.app import create_app
from hub.settings import HubSettings
from hub.state import HubState
from tests.hub.helpers import HubApi, make_notice, signed


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2", "\u3042".encode("shift_jis"), b"[" * 100_000],
    ids=["broken", "empty", "truncated", "not-utf8", "deeply-nested"],
)
async def test_malformed_json_is_graphql_error_not_500(api: HubApi, body: bytes) -> None:
    response = await api.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"]
    assert response.headers["x-request-id"]


async def test_wrong_variable_type_is_graphql_error(api: HubApi) -> None:
    body = await api.graphql(
        "query($a: Int!) { notices(after: $a) { lastSeq } }", {"a": "not a number"}
    )
    assert body.get("data") is None
    assert "Int" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ notices { nope } }", None),
        ("{ nothing }", None),
        ('{ notices(first: "ten") { lastSeq } }', None),
        (
            "mutation($e: SignedEnvelopeInput!) { publishNotice(envelope: $e) { __typename } }",
            {"e": {"protected": "a", "payload": "b", "signature": "c", "jwk": "d"}},
        ),
        (
            "mutation($e: SignedEnvelopeInput!) { publishNotice(envelope: $e) { __typename } }",
            {"e": {"protected": "a", "payload": 5, "signature": "c"}},
        ),
        ("mutation { publishNotice { __typename } }", None),
    ],
    ids=[
        "unknown-field",
        "unknown-root",
        "string-for-int",
        "extra-input",
        "int-for-string",
        "missing-arg",
    ],
)
async def test_invalid_operation_is_graphql_error(
    api: HubApi, query: str, variables: dict[str, Any] | None
) -> None:
    body = await api.graphql(query, variables)
    assert body["errors"]
    assert not body.get("data")


async def test_absurdly_deep_query_is_graphql_error(api: HubApi) -> None:
    body = await api.graphql("{" * 20_000 + "}" * 20_000)
    assert body["errors"]


async def test_missing_query_is_graphql_error(api: HubApi) -> None:
    response = await api.http.post("/graphql", json={"variables": {}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_get_query_works_and_get_mutation_is_refused(api: HubApi) -> None:
    response = await api.http.get("/graphql", params={"query": "{ notices { lastSeq } }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"notices": {"lastSeq": 0}}}
    response = await api.http.get(
        "/graphql",
        params={
            "query": 'mutation { publishNotice(envelope: {protected: "", payload: "", signature: ""}) { __typename } }'
        },
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "mutations are not allowed" in error["message"].lower()


@pytest.mark.parametrize("first", [0, -1, 1001])
async def test_first_out_of_range_is_clear_error(api: HubApi, first: int) -> None:
    body = await api.graphql("query($f: Int!) { notices(first: $f) { lastSeq } }", {"f": first})
    [error] = body["errors"]
    assert error["message"] == f"first must be between 1 and 1000 (got {first})"
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_negative_after_is_clear_error(api: HubApi) -> None:
    body = await api.graphql("{ notices(after: -5) { lastSeq } }")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_unexpected_failure_is_masked_and_logged_with_request_id(
    app: FastAPI, api: HubApi, registered: HubState, caplog: pytest.LogCaptureFixture
) -> None:
    await api.publish(signed(make_notice()))
    # Break the database underneath the hub: an unexpected error, not bad input.
    await registered.engine.dispose()
    async with registered.transaction() as session:
        from sqlalchemy import text

        for table in ("notice_areas", "delivery_reports"):  # they reference notices
            await session.execute(text(f"DROP TABLE {table}"))
        await session.execute(text("DROP TABLE notices"))
    response = await api.http.post(
        "/graphql", json={"query": "{ notices { lastSeq items { seq } } }"}
    )
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["message"] == "内部エラーが発生しました / internal error"
    request_id = response.headers["x-request-id"]
    assert error["extensions"] == {"code": "INTERNAL", "request_id": request_id}
    assert "notices" not in error["message"]
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


async def test_healthz_reports_ok(api: HubApi) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "hub": "aichi"}


async def test_exception_outside_graphql_is_generic_500_with_request_id(
    settings: HubSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # No lifespan has run: the app has no state, so building the context fails unexpectedly.
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        response = await http.post("/graphql", json={"query": "{ notices { lastSeq } }"})
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "errors": [
            {
                "message": "内部エラーが発生しました / internal error",
                "extensions": {"code": "INTERNAL", "request_id": request_id},
            }
        ]
    }
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)


async def test_exception_in_the_direct_lane_is_generic_500_with_request_id(
    api: HubApi,
    registered: HubState,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hub.subscribers.direct import DirectFeed

    async def broken(self: DirectFeed, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(DirectFeed, "answer", broken)
    response = await api.http.post(
        "/graphql", json={"query": "{ notices { lastSeq items { seq } } }"}
    )
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "errors": [
            {
                "message": "内部エラーが発生しました / internal error",
                "extensions": {"code": "INTERNAL", "request_id": request_id},
            }
        ]
    }
    assert "secret" not in response.text
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
