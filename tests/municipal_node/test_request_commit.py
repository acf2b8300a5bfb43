"""A write through the admin API is committed BEFORE its response starts: a client that
gets 201 and reads at once (or another node process does) sees the write. With FastAPI's
request-scoped yield dependencies the commit ran after the response was sent."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.staff.client import OPERATOR


async def test_the_unit_of_work_commits_before_the_response_starts(
    node: Node, node_app: FastAPI, monkeypatch: Any
) -> None:
    await node.add_tenant()
    events: list[str] = []
    original_commit = AsyncSession.commit

    async def commit(self: AsyncSession) -> None:
        await original_commit(self)
        events.append("commit")

    monkeypatch.setattr(AsyncSession, "commit", commit)

    async def recording_app(scope: Any, receive: Any, send: Any) -> None:
        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                events.append("response")
            await send(message)

        await node_app(scope, receive, recording_send)

    transport = httpx.ASGITransport(app=recording_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as http:
        created = await http.post(
            f"/api/tenants/{TENANT}/segments",
            json={"name": "ひとり親", "description": "", "spec": {"household": ["single_parent"]}},
            headers=OPERATOR,
        )
    assert created.status_code == 201, created.text
    assert "commit" in events
    assert events.index("commit") < events.index("response"), events
