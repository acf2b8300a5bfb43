"""Staff management under /api/tenants/{code}/staff, and what each role may do."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.settings import NodeSettings
from tests.municipal_node.conftest import ENCRYPTION_KEY, Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.staff.client import (
    OPERATOR,
    OTHER_TENANT,
    PASSWORD,
    add_staff,
    bearer,
    login,
    staff_headers,
)
from todoke.commands.node import node_group

CSV = "resident_id,household,child_birth_dates,district,programs,line_user_id\nR1,elderly,,東町,,\n"
ROLES = ("admin", "editor", "approver", "viewer")


async def usernames(http: httpx.AsyncClient, tenant: str) -> list[str]:
    response = await http.get(f"/api/tenants/{tenant}/staff", headers=OPERATOR)
    assert response.status_code == 200
    return [entry["username"] for entry in response.json()]


READERS = {"admin", "editor", "approver", "viewer"}


def csv_body(role: str) -> dict[str, Any]:
    return {"content": CSV.encode(), "headers": {"Content-Type": "text/csv"}}


def no_body(role: str) -> dict[str, Any]:
    return {}


def segment_body(role: str) -> dict[str, Any]:
    return {"json": {"name": f"segment by {role}", "spec": {}}}


def staff_body(role: str) -> dict[str, Any]:
    return {
        "json": {
            "username": f"new-{role}",
            "display_name": "新人",
            "password": PASSWORD,
            "role": "viewer",
        }
    }


# (method, path under the tenant, roles allowed, request arguments)
MATRIX: list[tuple[str, str, set[str], Callable[[str], dict[str, Any]]]] = [
    ("POST", "/residents/import", {"admin", "editor"}, csv_body),
    ("GET", "/notices", READERS, no_body),
    ("GET", "/rejections", READERS, no_body),
    ("GET", "/segments", READERS, no_body),
    ("POST", "/segments", {"admin", "editor"}, segment_body),
    ("GET", "/sends", READERS, no_body),
    ("GET", "/staff", {"admin"}, no_body),
    ("POST", "/staff", {"admin"}, staff_body),
]


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_may_do_exactly_what_the_matrix_says(
    node_http: httpx.AsyncClient, tenants: tuple[str, str], role: str
) -> None:
    headers = await staff_headers(node_http, tenant=TENANT, username=f"as-{role}", role=role)
    for method, path, allowed, arguments in MATRIX:
        extra = arguments(role)
        response = await node_http.request(
            method,
            f"/api/tenants/{TENANT}{path}",
            content=extra.get("content"),
            json=extra.get("json"),
            headers={**headers, **extra.get("headers", {})},
        )
        if role in allowed:
            assert response.status_code in (200, 201), (method, path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["detail"]["code"] == "FORBIDDEN"


async def test_an_admin_manages_the_staff_of_their_own_tenant(
    node: Node, node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    admin = await staff_headers(node_http, tenant=TENANT, username="admin-a", role="admin")
    created = await add_staff(
        node_http, tenant=TENANT, username="sato", role="viewer", display_name="佐藤 一郎",
        headers=admin,
    )  # fmt: skip
    assert created.status_code == 201
    out = created.json()
    assert {k: out[k] for k in ("username", "display_name", "role", "active")} == {
        "username": "sato",
        "display_name": "佐藤 一郎",
        "role": "viewer",
        "active": True,
    }
    assert "password" not in created.text and "argon2" not in created.text
    promoted = await node_http.patch(
        f"/api/tenants/{TENANT}/staff/sato", json={"role": "approver"}, headers=admin
    )
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "approver"
    assert (await login(node_http, "sato")).json()["roles"] == {TENANT: "approver"}
    listed = await node_http.get(f"/api/tenants/{TENANT}/staff", headers=admin)
    assert [(e["username"], e["role"]) for e in listed.json()] == [
        ("admin-a", "admin"),
        ("sato", "approver"),
    ]
    removed = await node_http.delete(f"/api/tenants/{TENANT}/staff/sato", headers=admin)
    assert removed.status_code == 204
    assert await usernames(node_http, TENANT) == ["admin-a"]
    async with node.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.tenant_code == TENANT, AuditEntry.actor == "staff:admin-a")
                .order_by(AuditEntry.id)
            )
        )
    assert [(r.tenant_code, r.action, r.detail) for r in rows] == [
        (TENANT, "staff.created", {"username": "sato", "role": "viewer"}),
        (TENANT, "staff.role_changed", {"username": "sato", "from": "viewer", "to": "approver"}),
        (TENANT, "staff.removed", {"username": "sato"}),
        (TENANT, "staff.disabled", {"username": "sato"}),
    ]


async def test_staff_removed_from_their_last_tenant_are_disabled_and_keep_their_name(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="sato", role="viewer")
    token = (await login(node_http, "sato")).json()["token"]
    assert (
        await node_http.delete(f"/api/tenants/{TENANT}/staff/sato", headers=OPERATOR)
    ).status_code == 204
    assert (await node_http.get("/api/me", headers=bearer(token))).status_code == 401
    assert (await login(node_http, "sato")).status_code == 403
    again = await add_staff(node_http, tenant=TENANT, username="sato", role="viewer")
    assert again.status_code == 409
    assert again.json()["detail"]["code"] == "USERNAME_TAKEN"


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"username": "ab"}, "BAD_USERNAME", "ユーザー名は英小文字・数字"),
        ({"username": "田中"}, "BAD_USERNAME", "ユーザー名は英小文字・数字"),
        ({"username": "a b c"}, "BAD_USERNAME", "ユーザー名は英小文字・数字"),
        ({"password": "elevenchars"}, "WEAK_PASSWORD", "パスワードは12文字以上"),
        (
            {"username": "longusername12", "password": "LongUsername12"},
            "WEAK_PASSWORD",
            "ユーザー名と同じパスワード",
        ),
        ({"role": "owner"}, "BAD_ROLE", "権限は admin, editor, approver, viewer"),
        ({"display_name": "  "}, "BAD_DISPLAY_NAME", "表示名は1〜100文字"),
        ({"display_name": "a\x07b"}, "BAD_DISPLAY_NAME", "制御文字"),
        ({"username": "admin-a"}, "USERNAME_TAKEN", "既に使われています"),
    ],
)
async def test_bad_staff_input_is_refused_with_a_reason_and_nothing_changes(
    node: Node,
    node_http: httpx.AsyncClient,
    tenants: tuple[str, str],
    change: dict[str, str],
    code: str,
    message: str,
) -> None:
    admin = await staff_headers(node_http, tenant=TENANT, username="admin-a", role="admin")
    async with node.sessions() as session:
        audit_before = len(list(await session.scalars(select(AuditEntry.id))))
    body = {"username": "sato", "display_name": "佐藤", "password": PASSWORD, "role": "viewer"}
    body.update(change)
    response = await node_http.post(f"/api/tenants/{TENANT}/staff", json=body, headers=admin)
    assert response.status_code == (409 if code == "USERNAME_TAKEN" else 422), response.text
    assert response.json()["detail"]["code"] == code
    assert response.json()["detail"]["message"].startswith(message) or message in response.text
    assert re.search(r"[ぁ-んァ-ン一-龥]", response.json()["detail"]["message"].split(" / ")[0])
    assert body["password"] not in response.text
    assert await usernames(node_http, TENANT) == ["admin-a"]
    async with node.sessions() as session:
        assert len(list(await session.scalars(select(AuditEntry.id)))) == audit_before


async def test_patch_with_nothing_to_change_or_a_bad_role_is_refused(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="sato", role="viewer")
    empty = await node_http.patch(f"/api/tenants/{TENANT}/staff/sato", json={}, headers=OPERATOR)
    assert empty.status_code == 422
    assert empty.json()["detail"]["code"] == "NOTHING_TO_CHANGE"
    bad = await node_http.patch(
        f"/api/tenants/{TENANT}/staff/sato", json={"role": "root"}, headers=OPERATOR
    )
    assert bad.status_code == 422
    assert bad.json()["detail"]["code"] == "BAD_ROLE"
    unknown = await node_http.patch(
        f"/api/tenants/{TENANT}/staff/nobody", json={"role": "viewer"}, headers=OPERATOR
    )
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["code"] == "UNKNOWN_STAFF"


async def test_an_admin_cannot_change_their_own_role_status_or_membership(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    admin = await staff_headers(node_http, tenant=TENANT, username="admin-a", role="admin")
    base = f"/api/tenants/{TENANT}/staff/admin-a"
    for response in (
        await node_http.patch(base, json={"role": "viewer"}, headers=admin),
        await node_http.patch(base, json={"active": False}, headers=admin),
        await node_http.delete(base, headers=admin),
        await node_http.post(f"{base}/password", json={"password": "x" * 20}, headers=admin),
    ):
        assert response.status_code == 409, response.text
        assert response.json()["detail"]["code"] == "SELF_CHANGE"
    assert (await login(node_http, "admin-a")).json()["roles"] == {TENANT: "admin"}


async def test_staff_of_one_tenant_never_see_or_touch_staff_of_another(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    admin_a = await staff_headers(node_http, tenant=TENANT, username="admin-a", role="admin")
    await staff_headers(node_http, tenant=OTHER_TENANT, username="admin-b", role="admin")
    await add_staff(node_http, tenant=OTHER_TENANT, username="staff-b", role="viewer")
    # B's paths: no role there
    for method, path in (
        ("GET", f"/api/tenants/{OTHER_TENANT}/staff"),
        ("PATCH", f"/api/tenants/{OTHER_TENANT}/staff/staff-b"),
        ("DELETE", f"/api/tenants/{OTHER_TENANT}/staff/staff-b"),
        ("POST", f"/api/tenants/{OTHER_TENANT}/staff/staff-b/password"),
    ):
        response = await node_http.request(method, path, headers=admin_a)
        assert response.status_code == 403, (method, path)
    # B's staff named under A's path: as if they did not exist
    for method, path, body in (
        ("PATCH", f"/api/tenants/{TENANT}/staff/staff-b", {"active": False}),
        ("DELETE", f"/api/tenants/{TENANT}/staff/staff-b", None),
        ("POST", f"/api/tenants/{TENANT}/staff/staff-b/password", {"password": "x" * 20}),
    ):
        response = await node_http.request(method, path, json=body, headers=admin_a)
        assert response.status_code == 404, (method, path, response.text)
    assert (
        "staff-b" not in (await node_http.get(f"/api/tenants/{TENANT}/staff", headers=admin_a)).text
    )
    assert (await login(node_http, "staff-b")).status_code == 200


async def cli(settings: NodeSettings, *args: str) -> None:
    """``todoke node …`` (it runs its own event loop, so in a thread)."""
    env = {
        "TODOKE_NODE_DATABASE_URL": settings.database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    result = await asyncio.to_thread(
        CliRunner().invoke, node_group, list(args), env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output


async def test_account_wide_changes_to_staff_shared_with_another_tenant_need_admin_there(
    node_http: httpx.AsyncClient, node_settings: NodeSettings, tenants: tuple[str, str]
) -> None:
    admin_a = await staff_headers(node_http, tenant=TENANT, username="admin-a", role="admin")
    await add_staff(node_http, tenant=TENANT, username="shared", role="editor")
    await cli(
        node_settings,
        "set-staff-role",
        "--tenant",
        OTHER_TENANT,
        "--username",
        "shared",
        "--role",
        "viewer",
    )
    assert (await login(node_http, "shared")).json()["roles"] == {
        OTHER_TENANT: "viewer",
        TENANT: "editor",
    }
    base = f"/api/tenants/{TENANT}/staff/shared"
    for response in (
        await node_http.patch(base, json={"active": False}, headers=admin_a),
        await node_http.post(f"{base}/password", json={"password": "x" * 20}, headers=admin_a),
    ):
        assert response.status_code == 409
        assert response.json()["detail"]["code"] == "SHARED_STAFF"
    # the role here is A's own business
    changed = await node_http.patch(base, json={"role": "viewer"}, headers=admin_a)
    assert changed.status_code == 200
    assert (await node_http.delete(base, headers=admin_a)).status_code == 204
    signed_in = await login(node_http, "shared")
    assert signed_in.status_code == 200
    assert signed_in.json()["roles"] == {OTHER_TENANT: "viewer"}
    # the operator, admin everywhere, may disable a shared account
    both = await add_staff(node_http, tenant=TENANT, username="shared2", role="viewer")
    assert both.status_code == 201
    await cli(
        node_settings,
        "set-staff-role",
        "--tenant",
        OTHER_TENANT,
        "--username",
        "shared2",
        "--role",
        "viewer",
    )
    disabled = await node_http.patch(
        f"/api/tenants/{TENANT}/staff/shared2", json={"active": False}, headers=OPERATOR
    )
    assert disabled.status_code == 200


async def test_openapi_documents_the_staff_api_with_japanese_first_summaries(
    node_http: httpx.AsyncClient,
) -> None:
    assert (await node_http.get("/docs")).status_code == 200
    spec = (await node_http.get("/openapi.json")).json()
    expected = {
        ("post", "/api/login"),
        ("post", "/api/logout"),
        ("get", "/api/me"),
        ("post", "/api/me/password"),
        ("get", "/api/tenants/{code}/staff"),
        ("post", "/api/tenants/{code}/staff"),
        ("patch", "/api/tenants/{code}/staff/{username}"),
        ("post", "/api/tenants/{code}/staff/{username}/password"),
        ("delete", "/api/tenants/{code}/staff/{username}"),
    }
    for method, path in expected:
        summary = spec["paths"][path][method]["summary"]
        japanese, _, english = summary.partition(" / ")
        assert re.search(r"[ぁ-んァ-ン一-龥]", japanese), summary
        assert english and english.isascii(), summary
    schema = spec["components"]["schemas"]["StaffCreate"]["properties"]
    assert schema["role"]["enum"] == ["admin", "editor", "approver", "viewer"]
    assert schema["password"]["format"] == "password"
