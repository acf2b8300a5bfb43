from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from contracts.keys import private_key_to_pem
from hub.app import create_app
from hub.publishers.registry import add_publisher_key
from hub.settings import HubSettings
from hub.state import HubState
from hub.subscribers.registry import add_subscriber
from tests.hub.helpers import (
    HUB_ID,
    ROOT_KEY,
    SUBSCRIBER,
    FixedClock,
    HubApi,
    KeySpec,
    bearer,
    cfa_key,
    pref_key,
)
from todoke.serving import bind_socket, url_of


@pytest.fixture
def root_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "hub-root.pem"
    path.write_bytes(private_key_to_pem(ROOT_KEY))
    return path


@pytest.fixture
def settings(database_url: str, root_key_file: Path) -> HubSettings:
    return HubSettings(database_url=database_url, hub_id=HUB_ID, root_key_file=root_key_file)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def app(settings: HubSettings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def hub_state(app: FastAPI) -> HubState:
    state: HubState = app.state.hub
    return state


async def subscribe(state: HubState, municipality: str = SUBSCRIBER, name: str = "弥富市") -> str:
    """Register a subscriber (municipal node) and return its bearer credential."""
    async with state.transaction() as session:
        registered = await add_subscriber(
            session, municipality=municipality, name=name, node_jwk=None, now=state.clock.now()
        )
    return registered.credential


async def subscribe_with_own_engine(
    settings: HubSettings, municipality: str = SUBSCRIBER, name: str = "弥富市"
) -> str:
    """``subscribe`` through a separate engine (for a hub running in another thread/loop)."""
    from hub.clock import SystemClock
    from hub.db import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            registered = await add_subscriber(
                session,
                municipality=municipality,
                name=name,
                node_jwk=None,
                now=SystemClock().now(),
            )
    finally:
        await engine.dispose()
    return registered.credential


@pytest.fixture
async def subscriber_credential(hub_state: HubState) -> str:
    """The credential of subscriber 23235 (弥富市), registered for every ``api`` test."""
    return await subscribe(hub_state)


@pytest.fixture
async def api(app: FastAPI, subscriber_credential: str) -> AsyncIterator[HubApi]:
    """The GraphQL API in-process, authenticated as subscriber 23235 (弥富市)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub.test", headers=bearer(subscriber_credential)
    ) as http:
        yield HubApi(http)


async def register(state: HubState, spec: KeySpec) -> None:
    async with state.transaction() as session:
        await add_publisher_key(
            session,
            publisher_id=spec.publisher,
            name=spec.name,
            kid=spec.kid,
            jwk=spec.jwk,
            areas=spec.areas,
            categories=spec.categories,
            not_before=spec.not_before,
            not_after=spec.not_after,
            now=state.clock.now(),
        )


@pytest.fixture
async def registered(hub_state: HubState) -> HubState:
    """gov-cfa (area 00, benefit+procedure) and pref-23 (area 23, benefit) are registered."""
    await register(hub_state, cfa_key())
    await register(hub_state, pref_key())
    return hub_state


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self.sock = bind_socket("127.0.0.1", 0)
        self.url = url_of(self.sock)
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("hub server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture
def live_hub(settings: HubSettings, clock: FixedClock) -> Iterator[tuple[LiveServer, HubState]]:
    """The hub on a real uvicorn server on loopback (its own event loop, in a thread)."""
    application = create_app(settings, clock=clock)
    server = LiveServer(application)
    server.start()
    try:
        yield server, application.state.hub
    finally:
        server.stop()


async def register_with_own_engine(settings: HubSettings, spec: KeySpec, clock: FixedClock) -> None:
    """Register a key through a separate engine (for a hub running in another thread/loop)."""
    from hub.db import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await add_publisher_key(
                session,
                publisher_id=spec.publisher,
                name=spec.name,
                kid=spec.kid,
                jwk=spec.jwk,
                areas=spec.areas,
                categories=spec.categories,
                not_before=spec.not_before,
                not_after=spec.not_after,
                now=clock.now(),
            )
    finally:
        await engine.dispose()
