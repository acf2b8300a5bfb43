"""Follow-burst benchmark: many residents add the city's LINE account at once (the day the
city announces it) and each must get the greeting with its 受信設定 quick replies.

Real processes on loopback: the LINE sandbox (each reply call answered after
``--latency`` seconds, LINE's round trip from a data centre in Japan; reply tokens valid for
``--token-ttl`` seconds, as LINE's expire about a minute after the event) and the node
(``todoke node serve`` on SQLite, or on a fresh PostgreSQL database with ``--pg-url``). The
sandbox sends the follow webhooks in LINE's batches; the node stores them (answering within
its 2 s budget) and its inbox worker acts on each and replies with the greeting.

Printed: time from the burst to the last greeting LINE accepted, greetings per second,
greetings LINE refused (reply token expired), and the node's peak RSS.

Run:    .venv/bin/python bench/follow_burst.py                   (1,000 residents)
        .venv/bin/python bench/follow_burst.py --residents 3000 --latency 0.1
Options: --pg-url postgresql://postgres@127.0.0.1:5432/postgres --token-ttl 60
Target: every resident greeted with the token still valid (no refused greeting) for a burst of
1,000 at 50 ms latency, i.e. well inside the token's minute.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from dispatch import admin, database_url, vm_hwm_kib  # bench/ is on sys.path as a script

from contracts.keys import generate_private_key, public_jwk
from municipal_node.crypto import Sealer
from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.db.migrate import upgrade_to_head
from municipal_node.tenants.service import add_tenant
from todoke.demo.processes import Service, start_service

TENANT = "23235"
CHANNEL = "burst"
CHANNEL_SECRET = secrets.token_hex(16)
CHANNEL_TOKEN = secrets.token_urlsafe(32)
INBOX_QUERY = (
    "SELECT count(*) FILTER (WHERE state = 'done' AND last_error IS NULL), "
    "count(*) FILTER (WHERE state = 'done' AND last_error IS NOT NULL), "
    "count(*) FILTER (WHERE state = 'failed'), count(*), max(processed_at) "
    "FROM line_inbox WHERE type = 'follow'"
)
SQLITE_INBOX_QUERY = (
    "SELECT sum(state = 'done' AND last_error IS NULL), "
    "sum(state = 'done' AND last_error IS NOT NULL), sum(state = 'failed'), count(*), "
    "max(processed_at) FROM line_inbox WHERE type = 'follow'"
)


async def prepare_node(url: str, key: bytes, *, line_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    engine = create_engine(url)
    root = {"kid": "hub-bench/root1", "jwk": public_jwk(generate_private_key())}
    async with unit_of_work(session_factory(engine)) as session:
        await add_tenant(
            session, sealer=Sealer(key), code=TENANT, name="弥富市",
            hub_url="http://127.0.0.1:9", root_keys=[root], line_channel_secret=CHANNEL_SECRET,
            line_access_token=CHANNEL_TOKEN, line_api_base_url=line_url,
            now=datetime.now(UTC), hub_credential=None,
        )  # fmt: skip
    await engine.dispose()


def inbox_counts(url: str) -> tuple[int, int, int, int]:
    """(greeted, refused, failed, stored) follow events at the node."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            row = db.execute(SQLITE_INBOX_QUERY).fetchone()
    else:
        with psycopg.connect(url) as db:
            row = db.execute(INBOX_QUERY).fetchone()
    assert row is not None
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    services: list[Service] = []
    pg_db = f"todoke_bench_follow_{time.time_ns()}" if args.pg_url else None
    node_url = (
        database_url(args.pg_url, pg_db) if args.pg_url and pg_db else f"sqlite:///{workdir}/n.db"
    )
    if args.pg_url and pg_db:
        admin(args.pg_url, f'CREATE DATABASE "{pg_db}"')
    try:
        sandbox = start_service(
            "sandbox", ["sandbox", "serve"], workdir=workdir,
            env={"TODOKE_SANDBOX_REPLY_TOKEN_TTL_SECONDS": str(args.token_ttl),
                 "TODOKE_SANDBOX_EXCHANGES_CAPACITY": "0"},
        )  # fmt: skip
        services.append(sandbox)
        key = secrets.token_bytes(32)
        asyncio.run(prepare_node(node_url, key, line_url=sandbox.url))
        node_env = {
            "TODOKE_NODE_DATABASE_URL": node_url,
            "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(key).decode(),
            "TODOKE_NODE_POLL_INTERVAL_SECONDS": "1",
            "TODOKE_NODE_SUBSCRIBE": "false",
        }
        node = start_service("node", ["node", "serve"], env=node_env, workdir=workdir)
        services.append(node)
        with httpx.Client(base_url=sandbox.url, timeout=600) as http:
            http.post(
                "/sandbox/channels",
                json={"name": CHANNEL, "channel_secret": CHANNEL_SECRET,
                      "channel_access_token": CHANNEL_TOKEN,
                      "webhook_url": f"{node.url}/line/{TENANT}/webhook"},
            ).raise_for_status()  # fmt: skip
            http.post(
                f"/sandbox/channels/{CHANNEL}/friends", json={"count": args.residents}
            ).raise_for_status()
            http.post(
                f"/sandbox/channels/{CHANNEL}/faults",
                json={"latency_seconds": args.latency, "endpoints": ["reply"], "seed": 1},
            ).raise_for_status()
            started = time.monotonic()
            http.post(f"/sandbox/channels/{CHANNEL}/follow", json={"all": True}).raise_for_status()
            stored_after = time.monotonic() - started
        deadline = started + args.timeout
        while True:
            greeted, refused, failed, stored = inbox_counts(node_url)
            if greeted + refused + failed >= args.residents or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        return {
            "residents": args.residents,
            "latency_s": args.latency,
            "token_ttl_s": args.token_ttl,
            "webhooks_stored_s": round(stored_after, 2),
            "all_answered_s": round(elapsed, 2),
            "greetings_per_s": round(greeted / elapsed, 1) if elapsed else None,
            "greeted": greeted,
            "refused_token_expired": refused,
            "failed": failed,
            "stored": stored,
            "node_peak_rss_mb": round((vm_hwm_kib(node.process.pid) or 0) / 1024, 1),
            "database": "postgresql" if args.pg_url else "sqlite",
        }
    finally:
        for service in reversed(services):
            service.stop()
        if args.pg_url and pg_db:
            admin(args.pg_url, f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per reply call")
    parser.add_argument("--token-ttl", type=int, default=60, help="reply token validity, s")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--pg-url", default=None, help="run the node on PostgreSQL")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="todoke-bench-follow-"))
    try:
        figures = run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name, value in figures.items():
        print(f"{name:>24}: {value}")


if __name__ == "__main__":
    main()
