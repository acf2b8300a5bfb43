"""Fixtures for node tests: the node's database, a node app, and the REAL hub and LINE sandbox
served by uvicorn on loopback in threads (``LiveServer``)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contracts.keys import private_key_to_pem, public_jwk
from municipal_node.app import create_app
from municipal_node.clock import FixedClock
from municipal_node.crypto import Sealer
from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.db.migrate import upgrade_to_head
from municipal_node.residents.service import ImportSummary, import_csv
from municipal_node.settings import NodeSettings
from municipal_node.tenants.service import add_tenant
from tests.municipal_node.helpers import (
    ADMIN_TOKEN,
    CFA_KEY,
    CFA_KID,
    CHANNEL,
    CHANNEL_SECRET,
    CHANNEL_TOKEN,
    HUB_ID,
    NOW,
    PREF_KEY,
    PREF_KID,
    ROOT_KEY,
    TENANT,
    TENANT_NAME,
    LiveServer,
    root_key_entry,
)

ENCRYPTION_KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def hub_credentials() -> dict[str, str]:
    """Subscriber credentials the live hubs of this test issued for TENANT, by hub URL;
    ``Node.add_tenant`` uses the one of its ``hub_url``."""
    return {}


@pytest.fixture
def node_settings(database_url: str) -> NodeSettings:
    return NodeSettings(
        database_url=database_url,
        encryption_key=ENCRYPTION_KEY,
        admin_token=ADMIN_TOKEN,
        poll_interval_seconds=0.05,
        line_timeout_seconds=5,
        line_backoff_base_seconds=0.01,
    )


@dataclass
class Node:
    """Direct access to the node's database and services (what the CLI uses)."""

    settings: NodeSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sealer: Sealer
    clock: FixedClock
    hub_credentials: dict[str, str]

    async def add_tenant(
        self,
        *,
        code: str = TENANT,
        hub_url: str = "http://127.0.0.1:9",
        line_api_base_url: str = "http://127.0.0.1:9",
        root_keys: list[dict[str, Any]] | None = None,
        token: str = CHANNEL_TOKEN,
        hub_credential: str | None = None,
    ) -> None:
        async with unit_of_work(self.sessions) as session:
            await add_tenant(
                session,
                sealer=self.sealer,
                code=code,
                name=TENANT_NAME,
                hub_url=hub_url,
                root_keys=root_keys or [root_key_entry()],
                line_channel_secret=CHANNEL_SECRET,
                line_access_token=token,
                line_api_base_url=line_api_base_url,
                now=self.clock.now(),
                hub_credential=hub_credential or self.hub_credentials.get(hub_url),
            )

    async def import_csv(
        self,
        path: Path,
        *,
        tenant: str = TENANT,
        skip_bad: bool = False,
        max_bad_share: float = 0.1,
    ) -> ImportSummary:
        return await import_csv(
            self.sessions,
            sealer=self.sealer,
            tenant_code=tenant,
            path=path,
            actor="cli",
            now=self.clock.now(),
            skip_bad=skip_bad,
            max_bad_share=max_bad_share,
        )


@pytest.fixture
async def node(
    node_settings: NodeSettings, clock: FixedClock, hub_credentials: dict[str, str]
) -> AsyncIterator[Node]:
    upgrade_to_head(node_settings.database_url)
    engine = create_engine(node_settings.database_url)
    try:
        yield Node(
            node_settings,
            engine,
            session_factory(engine),
            Sealer(node_settings.key_bytes()),
            clock,
            hub_credentials,
        )
    finally:
        await engine.dispose()


@pytest.fixture
async def node_app(node_settings: NodeSettings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """The node app with its lifespan run, without background workers."""
    app = create_app(node_settings, clock=clock, run_workers=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def node_http(node_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=node_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as client:
        yield client


@pytest.fixture
def live_node(node_settings: NodeSettings, clock: FixedClock) -> Iterator[LiveServer]:
    """The node served on loopback (webhooks from the sandbox), without background workers."""
    server = LiveServer(create_app(node_settings, clock=clock, run_workers=False)).start()
    try:
        yield server
    finally:
        server.stop()


async def _register_publishers(database_url: str, clock: FixedClock) -> str:
    """Register gov-cfa and pref-23, and TENANT as a subscriber; return its credential."""
    from hub.db import create_engine as hub_engine
    from hub.db import create_sessionmaker
    from hub.publishers.registry import add_publisher_key
    from hub.subscribers.registry import add_subscriber

    engine = hub_engine(database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            for publisher, kid, key, areas, categories in (
                ("gov-cfa", CFA_KID, CFA_KEY, ["00"], ["benefit", "procedure"]),
                ("pref-23", PREF_KID, PREF_KEY, ["23"], ["benefit"]),
            ):
                await add_publisher_key(
                    session,
                    publisher_id=publisher,
                    name=publisher,
                    kid=kid,
                    jwk=public_jwk(key),
                    areas=areas,
                    categories=categories,
                    not_before=NOW - timedelta(days=30),
                    not_after=NOW + timedelta(days=300),
                    now=clock.now(),
                )
            registered = await add_subscriber(
                session, municipality=TENANT, name=TENANT_NAME, node_jwk=None, now=clock.now()
            )
        return registered.credential
    finally:
        await engine.dispose()


@pytest.fixture
def hub_clock() -> FixedClock:
    """The hub's own clock (tests move the node's clock independently)."""
    return FixedClock(NOW)


@pytest.fixture
async def live_hub(
    second_database_url: str, tmp_path: Path, hub_clock: FixedClock, hub_credentials: dict[str, str]
) -> AsyncIterator[LiveServer]:
    """The REAL hub (hub.app.create_app) on loopback, gov-cfa and pref-23 registered, TENANT
    registered as a subscriber (its credential in ``hub_credentials[live_hub.url]``)."""
    from hub.app import create_app as create_hub
    from hub.db import upgrade_to_head as hub_upgrade
    from hub.settings import HubSettings

    key_file = tmp_path / "hub-root.pem"
    key_file.write_bytes(private_key_to_pem(ROOT_KEY))
    settings = HubSettings(database_url=second_database_url, hub_id=HUB_ID, root_key_file=key_file)
    hub_upgrade(second_database_url)
    credential = await _register_publishers(second_database_url, hub_clock)
    server = LiveServer(create_hub(settings, clock=hub_clock)).start()
    hub_credentials[server.url] = credential
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_sandbox() -> Iterator[LiveServer]:
    """The REAL LINE sandbox (line_sandbox.app.create_app) on loopback, channel created."""
    from line_sandbox.app import create_app as create_sandbox
    from line_sandbox.settings import SandboxSettings

    server = LiveServer(create_sandbox(SandboxSettings())).start()
    try:
        httpx.post(
            f"{server.url}/sandbox/channels",
            json={
                "name": CHANNEL,
                "channel_secret": CHANNEL_SECRET,
                "channel_access_token": CHANNEL_TOKEN,
            },
            timeout=30,
        ).raise_for_status()
        yield server
    finally:
        server.stop()
