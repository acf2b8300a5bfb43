"""Passwords, their hashes and session tokens never reach a log line or the audit log."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.staff.models import StaffUser
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.staff.client import OPERATOR, add_staff, bearer, login

FIRST = "first secret passphrase"
SECOND = "second secret passphrase"
THIRD = "third secret passphrase"
WRONG = "wrong secret passphrase"


async def test_no_password_hash_or_token_in_logs_or_audit(
    node: Node,
    node_http: httpx.AsyncClient,
    tenants: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="municipal_node")
    caplog.set_level(logging.DEBUG, logger="todoke")
    caplog.set_level(logging.DEBUG, logger="fastapi")
    caplog.set_level(logging.DEBUG, logger="httpx")
    assert (
        await add_staff(node_http, tenant=TENANT, username="hanako", role="admin", password=FIRST)
    ).status_code == 201
    assert (await login(node_http, "hanako", WRONG)).status_code == 401
    assert (await login(node_http, WRONG, WRONG)).status_code == 401
    token = (await login(node_http, "hanako", FIRST)).json()["token"]
    changed = await node_http.post(
        "/api/me/password",
        json={"current_password": FIRST, "new_password": SECOND},
        headers=bearer(token),
    )
    assert changed.status_code == 204
    await add_staff(node_http, tenant=TENANT, username="sato", role="viewer", password=FIRST)
    reset = await node_http.post(
        f"/api/tenants/{TENANT}/staff/sato/password",
        json={"password": THIRD},
        headers=bearer(token),
    )
    assert reset.status_code == 204
    await node_http.post("/api/logout", headers=bearer(token))
    weak = await add_staff(
        node_http, tenant=TENANT, username="kato", role="viewer", password="short pw"
    )
    assert weak.status_code == 422
    bad = await node_http.post(
        "/api/login", json={"username": "hanako", "password": 12345678901234}, headers=OPERATOR
    )
    assert bad.status_code == 422
    misplaced = await node_http.post("/api/login", json={"user": "hanako", "pass": FIRST})
    assert misplaced.status_code == 422
    assert misplaced.json()["detail"]["code"] == "INVALID_INPUT"
    assert misplaced.json()["detail"]["message"].startswith("入力に誤りがあります")
    assert FIRST not in misplaced.text

    async with node.sessions() as session:
        hashes = list(await session.scalars(select(StaffUser.password_hash)))
        audit = [
            json.dumps([row.actor, row.action, row.detail], ensure_ascii=False)
            for row in await session.scalars(select(AuditEntry))
        ]
    assert len(hashes) == 2 and all(h.startswith("$argon2id$") for h in hashes)
    assert audit  # the flow above was audited
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for secret in (FIRST, SECOND, THIRD, WRONG, "short pw", token, *hashes):
        assert secret not in logged
        for line in audit:
            assert secret not in line
