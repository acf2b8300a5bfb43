"""Helpers for the dispatch end-to-end tests (``tests/e2e/test_dispatch_*.py``): a tenant with
many friends, a bench-mode sandbox channel, the node (and on PostgreSQL a dispatch worker) as
real processes, and the sandbox's own delivery counts."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from contracts.keys import load_private_key_pem, public_jwk
from line_sandbox.roster import bench_user_id
from municipal_node.crypto import Sealer
from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.db.migrate import upgrade_to_head
from municipal_node.tenants.service import add_tenant
from tests.e2e.conftest import CHANNEL, TENANT, Federation
from tests.e2e.helpers import publish as publish_envelope
from tests.e2e.helpers import signed
from tests.fixtures.database import backend
from todoke.demo.notices import genkyo_todoke_notice
from todoke.demo.processes import Service

#: fast failure handling for tests: a request gives up after 2 s, a lost claim comes back
#: after 4 s, retries wait at most 1 s
NODE_ENV = {
    "TODOKE_NODE_LINE_TIMEOUT_SECONDS": "2",
    "TODOKE_NODE_DISPATCH_LEASE_SECONDS": "4",
    "TODOKE_NODE_LINE_BACKOFF_BASE_SECONDS": "0.05",
    "TODOKE_NODE_LINE_BACKOFF_CAP_SECONDS": "1",
    "TODOKE_NODE_SUBSCRIBE": "true",
}


def friend(index: int) -> str:
    return bench_user_id(CHANNEL, index)


def multi_process() -> bool:
    """PostgreSQL runs the node and a dispatch worker side by side; SQLite one process."""
    return backend() == "postgresql"


def insert_friends(database_url: str, count: int) -> None:
    """``count`` current friends straight into the node's ``line_friends``."""
    stamp = datetime.now(UTC)
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.executemany(
                "INSERT INTO line_friends (tenant_code, user_id, is_friend, last_event_ms, "
                "updated_at) VALUES (?, ?, 1, 1, ?)",
                ((TENANT, friend(i), stamp.isoformat(sep=" ")) for i in range(count)),
            )
        return
    with psycopg.connect(database_url) as db:
        with db.cursor().copy(
            "COPY line_friends (tenant_code, user_id, is_friend, last_event_ms, updated_at) "
            "FROM STDIN"
        ) as copy:
            buffer = io.StringIO()
            for i in range(count):
                buffer.write(f"{TENANT}\t{friend(i)}\tt\t1\t{stamp.isoformat()}\n")
            copy.write(buffer.getvalue())
        db.commit()


def is_friend_at_node(database_url: str, user_id: str) -> bool | None:
    """What the node's database says now (the webhook's effect, for the test to wait on)."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            row = db.execute(
                "SELECT is_friend FROM line_friends WHERE tenant_code = ? AND user_id = ?",
                (TENANT, user_id),
            ).fetchone()
    else:
        with psycopg.connect(database_url) as db:
            row = db.execute(
                "SELECT is_friend FROM line_friends WHERE tenant_code = %s AND user_id = %s",
                (TENANT, user_id),
            ).fetchone()
    return None if row is None else bool(row[0])


def start_worker(fed: Federation) -> Service:
    """``todoke node dispatch-worker``; stopped with the federation."""
    ready = fed.workdir / f"worker{len(fed.services)}.ready.json"
    log_path = fed.workdir / "worker.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed by Service.stop
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "todoke", "node", "dispatch-worker", "--ready-file", str(ready)],
        env={**os.environ, **fed.node_env}, cwd=fed.workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    service = Service("worker", process, "", log_path, log)
    fed.services.append(service)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the dispatch worker did not start:\n{service.log_tail()}")
        time.sleep(0.05)
    return service


async def _register(fed: Federation, *, hub_url: str, line_url: str) -> None:
    """The tenant at the hub (subscriber) and at the node (schema, tenant), in process: the
    CLI does the same (tested elsewhere) but costs seconds a call on a busy machine."""
    from hub.db import create_engine as hub_engine
    from hub.db import create_sessionmaker
    from hub.subscribers.registry import add_subscriber

    engine = hub_engine(fed.hub_env["TODOKE_HUB_DATABASE_URL"])
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            registered = await add_subscriber(
                session, municipality=TENANT, name="弥富市", node_jwk=None, now=datetime.now(UTC)
            )
    finally:
        await engine.dispose()
    node_url = fed.node_env["TODOKE_NODE_DATABASE_URL"]
    await asyncio.to_thread(upgrade_to_head, node_url)
    root_key = load_private_key_pem(fed.key("hub-root").read_bytes())
    node_engine = create_engine(node_url)
    try:
        async with unit_of_work(session_factory(node_engine)) as session:
            await add_tenant(
                session,
                sealer=Sealer(base64.b64decode(fed.node_env["TODOKE_NODE_ENCRYPTION_KEY"])),
                code=TENANT,
                name="弥富市",
                hub_url=hub_url,
                root_keys=[{"kid": "hub-aichi/root1", "jwk": public_jwk(root_key)}],
                line_channel_secret=fed.channel_secret,
                line_access_token=fed.channel_token,
                line_api_base_url=line_url,
                now=datetime.now(UTC),
                hub_credential=registered.credential,
            )
    finally:
        await node_engine.dispose()


def prepare(fed: Federation, friends: int, *, rate: float = 180, **node_env: str) -> None:
    """Sandbox (bench channel of ``friends``), hub, the tenant with ``friends`` current
    friends, then the node (and on PostgreSQL one dispatch worker) sending at ``rate``."""
    with ThreadPoolExecutor(2) as pool:
        sandbox, hub = pool.map(fed.start, ["sandbox", "hub"])
    fed.node_env.update(NODE_ENV)
    fed.node_env.update(node_env)
    fed.node_env["TODOKE_NODE_LINE_MULTICAST_RATE"] = str(rate)
    if multi_process():
        fed.node_env["TODOKE_NODE_DISPATCH_PROCESSES"] = "2"
    asyncio.run(_register(fed, hub_url=hub.url, line_url=sandbox.url))
    insert_friends(fed.node_env["TODOKE_NODE_DATABASE_URL"], friends)
    with ThreadPoolExecutor(2) as pool:
        node = pool.submit(fed.start, "node")
        if multi_process():
            pool.submit(start_worker, fed).result()
        node.result()
    assert fed.node is not None
    httpx.post(
        f"{sandbox.url}/sandbox/channels",
        json={
            "name": CHANNEL,
            "channel_secret": fed.channel_secret,
            "channel_access_token": fed.channel_token,
            "webhook_url": f"{fed.node.url}/line/{TENANT}/webhook",
            "bench": True,
            "friend_count": friends,
        },
        timeout=120,
    ).raise_for_status()


def everyone_notice() -> dict[str, Any]:
    notice = genkyo_todoke_notice(datetime.now(UTC))
    notice["audience"] = {}
    return notice


def counts(fed: Federation) -> dict[str, Any]:
    result: dict[str, Any] = fed.sandbox_get(f"/sandbox/channels/{CHANNEL}/counts")
    return result


def count_of(fed: Federation, user_id: str) -> int:
    return int(fed.sandbox_get(f"/sandbox/channels/{CHANNEL}/counts?user_id={user_id}")["count"])


def sends(fed: Federation) -> list[dict[str, Any]]:
    assert fed.node is not None
    response = httpx.get(
        f"{fed.node.url}/api/tenants/{TENANT}/sends",
        headers={"Authorization": f"Bearer {fed.admin_token}"},
        timeout=30,
    )
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def job_of(fed: Federation, notice_id: str) -> dict[str, Any] | None:
    return next((job for job in sends(fed) if job["notice_id"] == notice_id), None)


def finished(fed: Federation, notice_id: str) -> Callable[[], bool]:
    def check() -> bool:
        job = job_of(fed, notice_id)
        return job is not None and job["state"] in {"done", "cancelled", "failed"}

    return check


def set_faults(fed: Federation, profile: dict[str, Any]) -> None:
    assert fed.sandbox is not None
    httpx.post(
        f"{fed.sandbox.url}/sandbox/channels/{CHANNEL}/faults", json=profile, timeout=30
    ).raise_for_status()


def publish(fed: Federation, notice: dict[str, Any]) -> None:
    """Sign as the publisher and publish at the hub (over HTTP, as `todoke publish` does)."""
    assert fed.hub is not None
    publisher = str(notice["publisher"])
    result = publish_envelope(fed.hub.url, signed(notice, fed.key(publisher), f"{publisher}/t1"))
    assert result["__typename"] == "PublishAccepted", result


def senders_of(database_url: str) -> set[str]:
    """The processes (``host:pid:tag``) that recorded a multicast (audit rows)."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            rows = db.execute(
                "SELECT DISTINCT json_extract(detail, '$.worker') FROM audit_log "
                "WHERE action = 'line.multicast'"
            ).fetchall()
    else:
        with psycopg.connect(database_url) as db:
            rows = db.execute(
                "SELECT DISTINCT detail->>'worker' FROM audit_log WHERE action = 'line.multicast'"
            ).fetchall()
    return {str(row[0]) for row in rows}


def users_of_last_unclaimed_batch(database_url: str) -> list[str]:
    """The recipients of the last batch no sender holds yet (it goes out last or nearly)."""
    query = (
        "SELECT user_ids FROM outbox_batches WHERE state = 'pending' AND claimed_by IS NULL "
        "ORDER BY batch_no DESC LIMIT 1"
    )
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            row = db.execute(query).fetchone()
            return list(json.loads(row[0])) if row else []
    with psycopg.connect(database_url) as db:
        found = db.execute(query).fetchone()
    return list(found[0]) if found else []
