"""The node as it runs: lifespan, background workers, status API, health."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from line_sandbox.residents import simulated_user_id
from municipal_node.app import create_app
from municipal_node.clock import FixedClock
from municipal_node.settings import NodeSettings
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import (
    ADMIN_TOKEN,
    CHANNEL,
    TENANT,
    LiveServer,
    make_notice,
    publish,
    write_csv,
)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def wait_for(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_the_running_node_relays_a_published_notice_to_matching_friends(
    node: Node,
    node_settings: NodeSettings,
    clock: FixedClock,
    live_hub: LiveServer,
    live_sandbox: LiveServer,
    tmp_path: Path,
) -> None:
    await node.add_tenant(hub_url=live_hub.url, line_api_base_url=live_sandbox.url)
    users = [simulated_user_id(CHANNEL, i) for i in range(6)]
    rows = [
        (f"R{i}", "single_parent" if i % 2 == 0 else "elderly", "", "", "", users[i])
        for i in range(6)
    ]
    await node.import_csv(write_csv(tmp_path / "r.csv", rows))
    server = LiveServer(create_app(node_settings, clock=clock)).start()
    try:
        with httpx.Client(base_url=live_sandbox.url, timeout=30) as sandbox:
            sandbox.patch(
                f"/sandbox/channels/{CHANNEL}",
                json={"webhook_url": f"{server.url}/line/{TENANT}/webhook"},
            ).raise_for_status()
            sandbox.post(
                f"/sandbox/channels/{CHANNEL}/friends", json={"count": 6}
            ).raise_for_status()
            sandbox.post(
                f"/sandbox/channels/{CHANNEL}/follow", json={"all": True}
            ).raise_for_status()
            await publish(live_hub.url, make_notice())
            with httpx.Client(base_url=server.url, timeout=30) as api:

                def done() -> bool:
                    items = api.get(f"/api/tenants/{TENANT}/notices", headers=AUTH).json()
                    return bool(items) and items[0]["state"] == "done"

                await wait_for("the notice to be sent", done)
                health = api.get("/healthz")
                assert health.status_code == 200
                assert health.json()["scheduler"] == "running"
                assert health.json()["tenants"][TENANT] == {
                    "feed": "running",
                    "dispatch": "running",
                    "subscription": "live",
                    "inbox": "running",
                    "reports": "waiting for the first run",
                }
            inboxes = [  # the notice only (each follow was also answered with a greeting)
                sum(
                    item["endpoint"] != "reply"
                    for item in sandbox.get(
                        f"/sandbox/channels/{CHANNEL}/inbox", params={"user_id": u}
                    ).json()["messages"]
                )
                for u in users
            ]
        assert inboxes == [1, 0, 1, 0, 1, 0]
    finally:
        server.stop()
    assert not server.thread.is_alive()  # workers stopped cleanly with the lifespan


async def test_the_status_api_needs_the_admin_token(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    for path in (f"/api/tenants/{TENANT}/notices", f"/api/tenants/{TENANT}/rejections"):
        assert (await node_http.get(path)).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await node_http.get(path, headers=wrong)).status_code == 401
        assert (await node_http.get(path, headers=AUTH)).json() == []
    assert (await node_http.get("/api/tenants/13101/notices", headers=AUTH)).status_code == 404
    assert (await node_http.get("/healthz")).json() == {
        "status": "ok",
        "scheduler": "disabled",
        "tenants": {},
    }


async def test_rejections_are_listed_with_their_code(
    node: Node, node_http: httpx.AsyncClient, live_hub: LiveServer
) -> None:
    from tests.municipal_node.relay.test_follower import TamperingTransport, _corrupt

    await node.add_tenant(hub_url=live_hub.url)
    await publish(live_hub.url, make_notice())
    wire = TamperingTransport()

    def tamper(data: dict[str, Any]) -> None:
        _corrupt(data["notices"]["items"][0]["envelope"])

    wire.tamper = tamper
    from municipal_node.relay.follower import FeedFollower

    async with httpx.AsyncClient(transport=wire) as http:
        follower = FeedFollower(
            tenant_code=TENANT,
            sessions=node.sessions,
            sealer=node.sealer,
            clock=node.clock,
            http=http,
        )
        await follower.poll_once()
    [rejection] = (await node_http.get(f"/api/tenants/{TENANT}/rejections", headers=AUTH)).json()
    assert (rejection["seq"], rejection["code"]) == (1, "BAD_SIGNATURE")
    [entry] = (await node_http.get(f"/api/tenants/{TENANT}/notices", headers=AUTH)).json()
    assert (entry["state"], entry["publisher"]) == ("rejected", "gov-cfa")
