"""Staff through the HTTP API: the operator creates accounts, staff sign in."""

from __future__ import annotations

import httpx

from tests.municipal_node.helpers import ADMIN_TOKEN

OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OTHER_TENANT = "23100"  # 名古屋市
PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def add_staff(
    http: httpx.AsyncClient,
    *,
    tenant: str,
    username: str,
    role: str,
    password: str = PASSWORD,
    display_name: str = "弥富 花子",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await http.post(
        f"/api/tenants/{tenant}/staff",
        json={
            "username": username,
            "display_name": display_name,
            "password": password,
            "role": role,
        },
        headers=headers or OPERATOR,
    )


async def login(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/api/login", json={"username": username, "password": password})


async def staff_headers(
    http: httpx.AsyncClient, *, tenant: str, username: str, role: str
) -> dict[str, str]:
    """Create ``username`` with ``role`` on ``tenant`` (as the operator) and sign them in."""
    created = await add_staff(http, tenant=tenant, username=username, role=role)
    assert created.status_code == 201, created.text
    signed_in = await login(http, username)
    assert signed_in.status_code == 200, signed_in.text
    return bearer(signed_in.json()["token"])
