from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from contracts.keys import public_jwk
from hub.state import HubState
from hub.subscribers.registry import add_subscriber
from tests.hub.helpers import HubApi, bearer, make_notice, signed
from tests.hub.stats.helpers import NAGOYA, NAGOYA_KEY, YATOMI, YATOMI_KEY


async def register_node(
    state: HubState, municipality: str, name: str, key: Ed25519PrivateKey | None
) -> str:
    """A subscriber with its node report key (or none); returns its credential."""
    async with state.transaction() as session:
        registered = await add_subscriber(
            session,
            municipality=municipality,
            name=name,
            node_jwk=public_jwk(key) if key is not None else None,
            now=state.clock.now(),
        )
    return registered.credential


@pytest.fixture
async def nodes(registered: HubState) -> dict[str, str]:
    """Credentials of 弥富市 (23235) and 名古屋市 (23100), both with node report keys."""
    return {
        YATOMI: await register_node(registered, YATOMI, "弥富市", YATOMI_KEY),
        NAGOYA: await register_node(registered, NAGOYA, "名古屋市", NAGOYA_KEY),
    }


Connect = Callable[[dict[str, str]], HubApi]


@pytest.fixture
async def connect(app: FastAPI) -> AsyncIterator[Connect]:
    """``connect(headers)``: the in-process API sending ``headers`` with every request."""
    clients: list[httpx.AsyncClient] = []

    def make(headers: dict[str, str]) -> HubApi:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub.test", headers=headers
        )
        clients.append(client)
        return HubApi(client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def yatomi(connect: Connect, nodes: dict[str, str]) -> HubApi:
    """The API as 弥富市's node."""
    return connect(bearer(nodes[YATOMI]))


@pytest.fixture
def nagoya(connect: Connect, nodes: dict[str, str]) -> HubApi:
    """The API as 名古屋市's node."""
    return connect(bearer(nodes[NAGOYA]))


@pytest.fixture
def public(connect: Connect) -> HubApi:
    """The API without credentials (publishers, the dashboard)."""
    return connect({})


@pytest.fixture
async def notice_id(public: HubApi, registered: HubState) -> str:
    """A gov-cfa notice for the whole country (area 00), published."""
    notice = make_notice()
    result = await public.publish(signed(notice))
    assert result["__typename"] == "PublishAccepted", result
    return str(notice["notice_id"])
