"""Signing in and out over HTTP: tokens, expiry, lockout, disabled accounts, own password."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.clock import FixedClock
from municipal_node.staff.models import StaffSession, StaffUser
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import NOW, TENANT
from tests.municipal_node.staff.client import (
    OPERATOR,
    OTHER_TENANT,
    PASSWORD,
    add_staff,
    bearer,
    login,
)


async def audit_actions(node: Node) -> list[tuple[str, str, dict[str, object]]]:
    async with node.sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(row.actor, row.action, row.detail) for row in rows]


async def test_login_returns_a_token_whose_digest_alone_is_stored(
    node: Node, node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    assert (
        await add_staff(node_http, tenant=TENANT, username="hanako", role="editor")
    ).status_code == 201
    response = await login(node_http, "hanako")
    assert response.status_code == 200
    body = response.json()
    assert body["roles"] == {TENANT: "editor"}
    assert body["expires_at"].startswith((NOW + timedelta(hours=8)).isoformat()[:19])
    token = body["token"]
    assert len(token) >= 43
    async with node.sessions() as session:
        stored = list(await session.scalars(select(StaffSession)))
    assert [row.token_sha256 for row in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    me = await node_http.get("/api/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {
        "actor": "staff:hanako",
        "operator": False,
        "username": "hanako",
        "display_name": "弥富 花子",
        "roles": {TENANT: "editor"},
        "session_expires_at": body["expires_at"],
    }
    assert ("staff:hanako", "staff.login", {"username": "hanako"}) in await audit_actions(node)


async def test_username_is_matched_case_insensitively_and_roles_span_tenants(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="taro", role="admin")
    response = await login(node_http, "  Taro ")
    assert response.status_code == 200
    assert response.json()["roles"] == {TENANT: "admin"}


async def test_wrong_password_and_unknown_user_get_the_same_401(
    node: Node, node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="viewer")
    wrong = await login(node_http, "hanako", "not the password at all")
    unknown = await login(node_http, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["detail"]["code"] == "BAD_CREDENTIALS"
    assert wrong.json()["detail"]["message"].startswith("ユーザー名またはパスワードが違います")
    actions = await audit_actions(node)
    failed = [
        (actor, detail) for actor, action, detail in actions if action == "staff.login_failed"
    ]
    assert failed == [
        ("anonymous", {"username": "hanako", "reason": "wrong_password"}),
        ("anonymous", {"username": "nobody", "reason": "unknown_user"}),
    ]


async def test_a_malformed_username_is_not_kept_in_the_audit_log(
    node: Node, node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    response = await login(node_http, "my secret pass phrase!", PASSWORD)
    assert response.status_code == 401
    details = [d for _, action, d in await audit_actions(node) if action == "staff.login_failed"]
    assert details == [{"username": "(invalid)", "reason": "unknown_user"}]


async def test_the_session_expires_after_the_configured_hours(
    node_http: httpx.AsyncClient, clock: FixedClock, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="viewer")
    token = (await login(node_http, "hanako")).json()["token"]
    notices = f"/api/tenants/{TENANT}/notices"
    clock.set(NOW + timedelta(hours=8) - timedelta(seconds=1))
    assert (await node_http.get(notices, headers=bearer(token))).status_code == 200
    clock.set(NOW + timedelta(hours=8))
    expired = await node_http.get(notices, headers=bearer(token))
    assert expired.status_code == 401
    assert expired.json()["detail"]["code"] == "UNAUTHENTICATED"
    assert (await node_http.get("/api/me", headers=bearer(token))).status_code == 401


async def test_logout_revokes_only_that_token(
    node: Node, node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="viewer")
    first = (await login(node_http, "hanako")).json()["token"]
    second = (await login(node_http, "hanako")).json()["token"]
    out = await node_http.post("/api/logout", headers=bearer(first))
    assert out.status_code == 204
    assert (await node_http.get("/api/me", headers=bearer(first))).status_code == 401
    assert (await node_http.post("/api/logout", headers=bearer(first))).status_code == 401
    assert (await node_http.get("/api/me", headers=bearer(second))).status_code == 200
    assert ("staff:hanako", "staff.logout", {}) in await audit_actions(node)


async def test_the_operator_token_has_no_session_to_end(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    me = await node_http.get("/api/me", headers=OPERATOR)
    assert me.status_code == 200
    assert me.json()["operator"] is True
    out = await node_http.post("/api/logout", headers=OPERATOR)
    assert out.status_code == 400
    assert out.json()["detail"]["code"] == "NOT_STAFF"


async def test_five_failures_lock_the_account_for_fifteen_minutes(
    node: Node, node_http: httpx.AsyncClient, clock: FixedClock, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="viewer")
    for _ in range(4):
        assert (await login(node_http, "hanako", "wrong password 123")).status_code == 401
    fifth = await login(node_http, "hanako", "wrong password 123")
    assert fifth.status_code == 423
    detail = fifth.json()["detail"]
    assert detail["code"] == "ACCOUNT_LOCKED"
    assert detail["message"].startswith("ログインに5回続けて失敗したため")
    assert "09:15（日本時間）" in detail["message"]  # NOW is 09:00 JST
    # the right password does not open a locked account
    clock.set(NOW + timedelta(minutes=14, seconds=59))
    assert (await login(node_http, "hanako")).status_code == 423
    clock.set(NOW + timedelta(minutes=15))
    assert (await login(node_http, "hanako")).status_code == 200
    async with node.sessions() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.username == "hanako"))
    assert user is not None
    assert (user.failed_logins, user.locked_until) == (0, None)
    actions = [action for _, action, _ in await audit_actions(node)]
    assert actions.count("staff.locked") == 1


async def test_a_success_restarts_the_failure_count(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="viewer")
    for _ in range(4):
        await login(node_http, "hanako", "wrong password 123")
    assert (await login(node_http, "hanako")).status_code == 200
    for _ in range(4):
        assert (await login(node_http, "hanako", "wrong password 123")).status_code == 401


async def test_an_admin_reset_lifts_a_lock(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="viewer")
    for _ in range(5):
        await login(node_http, "hanako", "wrong password 123")
    assert (await login(node_http, "hanako")).status_code == 423
    reset = await node_http.post(
        f"/api/tenants/{TENANT}/staff/hanako/password",
        json={"password": "a brand new passphrase"},
        headers=OPERATOR,
    )
    assert reset.status_code == 204
    assert (await login(node_http, "hanako", "a brand new passphrase")).status_code == 200
    assert (await login(node_http, "hanako")).status_code == 401


async def test_a_disabled_account_cannot_sign_in_and_its_tokens_stop_working(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="editor")
    token = (await login(node_http, "hanako")).json()["token"]
    disabled = await node_http.patch(
        f"/api/tenants/{TENANT}/staff/hanako", json={"active": False}, headers=OPERATOR
    )
    assert disabled.status_code == 200
    assert disabled.json()["active"] is False
    assert (await node_http.get("/api/me", headers=bearer(token))).status_code == 401
    refused = await login(node_http, "hanako")
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "ACCOUNT_DISABLED"
    # re-enabling does not bring the old session back
    enabled = await node_http.patch(
        f"/api/tenants/{TENANT}/staff/hanako", json={"active": True}, headers=OPERATOR
    )
    assert enabled.status_code == 200
    assert (await node_http.get("/api/me", headers=bearer(token))).status_code == 401
    assert (await login(node_http, "hanako")).status_code == 200


async def test_staff_change_their_own_password_and_other_sessions_end(
    node: Node, node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="viewer")
    mine = (await login(node_http, "hanako")).json()["token"]
    other = (await login(node_http, "hanako")).json()["token"]
    wrong = await node_http.post(
        "/api/me/password",
        json={"current_password": "not it at all", "new_password": "another passphrase"},
        headers=bearer(mine),
    )
    assert wrong.status_code == 403
    assert wrong.json()["detail"]["code"] == "WRONG_PASSWORD"
    weak = await node_http.post(
        "/api/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=bearer(mine),
    )
    assert weak.status_code == 422
    assert weak.json()["detail"]["code"] == "WEAK_PASSWORD"
    assert "short" not in weak.text
    changed = await node_http.post(
        "/api/me/password",
        json={"current_password": PASSWORD, "new_password": "another passphrase"},
        headers=bearer(mine),
    )
    assert changed.status_code == 204
    assert (await node_http.get("/api/me", headers=bearer(mine))).status_code == 200
    assert (await node_http.get("/api/me", headers=bearer(other))).status_code == 401
    assert (await login(node_http, "hanako")).status_code == 401
    assert (await login(node_http, "hanako", "another passphrase")).status_code == 200
    operator = await node_http.post(
        "/api/me/password",
        json={"current_password": "x" * 12, "new_password": "y" * 12},
        headers=OPERATOR,
    )
    assert operator.status_code == 400


async def test_a_changed_argon2_cost_rehashes_the_password_at_the_next_sign_in(
    node: Node,
    node_http: httpx.AsyncClient,
    node_settings: object,
    clock: FixedClock,
    tenants: tuple[str, str],
) -> None:
    from municipal_node.app import create_app
    from municipal_node.settings import NodeSettings

    assert isinstance(node_settings, NodeSettings)
    await add_staff(node_http, tenant=TENANT, username="hanako", role="viewer")

    async def stored_hash() -> str:
        async with node.sessions() as session:
            value = await session.scalar(
                select(StaffUser.password_hash).where(StaffUser.username == "hanako")
            )
        assert value is not None
        return value

    before = await stored_hash()
    assert before.startswith("$argon2id$") and ",t=1," in before
    stronger = create_app(
        node_settings.model_copy(update={"staff_password_time_cost": 2}),
        clock=clock,
        run_workers=False,
    )
    async with stronger.router.lifespan_context(stronger):
        transport = httpx.ASGITransport(app=stronger)
        async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as http:
            assert (await login(http, "hanako")).status_code == 200
    after = await stored_hash()
    assert after != before and ",t=2," in after
    # the old parameters still verify the new hash
    assert (await login(node_http, "hanako")).status_code == 200


async def test_a_staff_member_without_a_role_on_a_tenant_is_refused_there(
    node_http: httpx.AsyncClient, tenants: tuple[str, str]
) -> None:
    await add_staff(node_http, tenant=TENANT, username="hanako", role="admin")
    token = (await login(node_http, "hanako")).json()["token"]
    other = await node_http.get(f"/api/tenants/{OTHER_TENANT}/notices", headers=bearer(token))
    assert other.status_code == 403
    assert other.json()["detail"]["code"] == "FORBIDDEN"
    unknown = await node_http.get("/api/tenants/13101/notices", headers=bearer(token))
    assert unknown.status_code == 403


async def test_too_many_failures_from_one_address_are_refused_across_accounts(
    node_http: httpx.AsyncClient, clock: FixedClock, tenants: tuple[str, str]
) -> None:
    """Password spraying: a few tries on each of many accounts never trips the per-account
    lockout, so failures are also counted per client address (20 per 15 minutes)."""
    for name in ("hanako", "taro", "jiro", "saburo", "shiro", "goro"):
        await add_staff(node_http, tenant=TENANT, username=name, role="viewer")
    names = ["hanako", "taro", "jiro", "saburo", "shiro"]
    for attempt in range(20):
        response = await login(node_http, names[attempt % 5], "wrong password 123")
        assert response.status_code == 401, (attempt, response.text)
    refused = await login(node_http, "goro")  # even the right password of another account
    assert refused.status_code == 429
    assert refused.json()["detail"]["code"] == "TOO_MANY_ATTEMPTS"
    assert refused.json()["detail"]["message"].startswith("この端末からのログイン失敗が多すぎます")
    assert int(refused.headers["Retry-After"]) == 15 * 60
    clock.set(NOW + timedelta(minutes=15))  # the window has passed
    assert (await login(node_http, "goro")).status_code == 200
