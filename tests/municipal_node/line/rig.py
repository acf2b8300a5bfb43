"""A conversation rig: the REAL LINE sandbox posting signed webhooks to the REAL node app on
loopback, and the tenant's inbox worker driven round by round from the test.

Fixtures ``chat`` (here) are imported by ``conftest.py`` of the line and linking tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from line_sandbox.residents import simulated_user_id
from municipal_node.line import preferences
from municipal_node.line.inbox_worker import InboxRound, InboxWorker
from municipal_node.line.models import LineInboxEvent
from municipal_node.linking.digest import CodeLookup
from municipal_node.residents.models import Resident
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import ADMIN_TOKEN, CHANNEL, TENANT, LiveServer, write_csv

FRIENDS = 4


@dataclass
class Chat:
    node: Node
    sandbox: LiveServer
    node_server: LiveServer
    http: httpx.Client
    worker: InboxWorker

    def user(self, index: int) -> str:
        return simulated_user_id(CHANNEL, index)

    # --- the resident's side (sandbox admin API) ---------------------------------------

    def _admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(
            f"{self.sandbox.url}/sandbox/channels/{CHANNEL}/{path}", json=body
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def follow(self, user: str) -> dict[str, Any]:
        return self._admin("follow", {"user_ids": [user]})

    def unfollow(self, user: str) -> dict[str, Any]:
        return self._admin("unfollow", {"user_ids": [user]})

    def say(self, user: str, text: str) -> dict[str, Any]:
        return self._admin("message", {"user_id": user, "text": text})

    def tap(self, user: str, data: str) -> dict[str, Any]:
        return self._admin("postback", {"user_id": user, "data": data})

    def open_link(self, user: str, url: str) -> dict[str, Any]:
        return self._admin("account-link", {"user_id": user, "url": url})

    def inbox(self, user: str) -> list[dict[str, Any]]:
        """Every request that reached ``user`` (oldest first)."""
        response = self.http.get(
            f"{self.sandbox.url}/sandbox/channels/{CHANNEL}/inbox", params={"user_id": user}
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["messages"]
        return items

    def last_reply(self, user: str) -> list[dict[str, Any]]:
        items = self.inbox(user)
        assert items, f"{user} received nothing"
        assert items[-1]["endpoint"] == "reply"
        messages: list[dict[str, Any]] = items[-1]["messages"]
        return messages

    def last_text(self, user: str) -> str:
        return "\n".join(m["text"] for m in self.last_reply(user) if m["type"] == "text")

    # --- the node's side ----------------------------------------------------------------

    async def process(self) -> InboxRound:
        return await self.worker.run_once()

    async def prefs(self, user: str) -> preferences.Preferences:
        async with self.node.sessions() as session:
            return await preferences.load(
                session, sealer=self.node.sealer, tenant_code=TENANT, user_id=user
            )

    async def inbox_rows(self) -> list[LineInboxEvent]:
        async with self.node.sessions() as session:
            return list(await session.scalars(select(LineInboxEvent).order_by(LineInboxEvent.id)))

    async def link_of(self, resident_id: str) -> str | None:
        async with self.node.sessions() as session:
            return await session.scalar(
                select(Resident.line_user_id).where(
                    Resident.tenant_code == TENANT, Resident.resident_id == resident_id
                )
            )

    async def import_residents(self, tmp_path: Path, *ids: str) -> None:
        await self.node.import_csv(
            write_csv(tmp_path / "residents.csv", [[rid, "", "", "東町", "", ""] for rid in ids])
        )

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.node_server.url,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        )


@pytest.fixture
async def chat(node: Node, live_sandbox: LiveServer, live_node: LiveServer) -> AsyncIterator[Chat]:
    await node.add_tenant(line_api_base_url=live_sandbox.url)
    with httpx.Client(timeout=30) as http:
        http.patch(
            f"{live_sandbox.url}/sandbox/channels/{CHANNEL}",
            json={"webhook_url": f"{live_node.url}/line/{TENANT}/webhook"},
        ).raise_for_status()
        http.post(
            f"{live_sandbox.url}/sandbox/channels/{CHANNEL}/friends", json={"count": FRIENDS}
        ).raise_for_status()
        worker = InboxWorker(
            tenant_code=TENANT,
            sessions=node.sessions,
            sealer=node.sealer,
            clock=node.clock,
            lookup=CodeLookup([node.settings.key_bytes()]),
            timeout_seconds=5,
        )
        yield Chat(node, live_sandbox, live_node, http, worker)
