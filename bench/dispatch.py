"""Dispatch benchmark (issue #4, item 11): one notice to 1,000,000 LINE friends.

Real processes on loopback: the LINE sandbox (bench mode: ids computed from the index,
counters only, 200 multicast requests/s per channel enforced), the hub and the node
(``todoke node serve``: feed follower, planner and senders in one process), each node and hub
on a fresh PostgreSQL database (created and dropped here). The node's friends are written
straight into ``line_friends`` with COPY; the tenant has no relay rules, so the notice's own
audience (``{}``: every friend) is the segment — pure SQL, no decryption.

A signed notice is published at the hub; the node reads it from the feed (live
subscription), stores it, creates the job, streams the segment into batches and sends them.
Printed: time from the notice being stored at the node to the last batch LINE accepted (the
node records it), next to the floor of recipients ÷ 500 ÷ 200 s; the node's peak RSS (VmHWM of
its process); the sandbox's own counts (recipients, duplicates, requests).

Run:    .venv/bin/python bench/dispatch.py                 (1,000,000 recipients)
        .venv/bin/python bench/dispatch.py --recipients 100000
Options: --pg-url postgresql://postgres@127.0.0.1:5432/postgres --rate R (node's multicast
         rate, default its setting: 190/s) --concurrency N --profile FILE (cProfile the node)
Targets: ≤ 11.1 s for 1,000,000 (≥ 90 % of LINE's ceiling) and ≤ 256 MB peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from contracts.jws import sign
from contracts.keys import generate_private_key, private_key_to_pem, public_jwk
from line_sandbox.roster import bench_user_id
from municipal_node.crypto import Sealer
from municipal_node.db.engine import create_engine as node_engine
from municipal_node.db.engine import session_factory, unit_of_work
from municipal_node.db.migrate import upgrade_to_head
from municipal_node.tenants.service import add_tenant
from todoke.demo.notices import genkyo_todoke_notice
from todoke.demo.processes import Service, start_service

TENANT = "23235"
CHANNEL = "bench"
BATCH = 500
LINE_RATE = 200
CHANNEL_SECRET = secrets.token_hex(16)
CHANNEL_TOKEN = secrets.token_urlsafe(32)
PUBLISH = """mutation P($e: SignedEnvelopeInput!) { publishNotice(envelope: $e) {
  __typename ... on PublishAccepted { seq } ... on PublishRejected { code message } } }"""


def database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def admin(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


async def register_hub(url: str, publisher_jwk: dict[str, str]) -> str:
    from hub.db import create_engine, create_sessionmaker
    from hub.db import upgrade_to_head as hub_upgrade
    from hub.publishers.registry import add_publisher_key
    from hub.subscribers.registry import add_subscriber

    await asyncio.to_thread(hub_upgrade, url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    async with create_sessionmaker(engine)() as session, session.begin():
        await add_publisher_key(
            session, publisher_id="gov-cfa", name="こども家庭庁", kid="gov-cfa/bench",
            jwk=publisher_jwk, areas=["00"], categories=["benefit", "procedure"],
            not_before=now - timedelta(days=1), not_after=now + timedelta(days=30), now=now,
        )  # fmt: skip
        registered = await add_subscriber(
            session, municipality=TENANT, name="弥富市", node_jwk=None, now=now
        )
    await engine.dispose()
    return registered.credential


async def prepare_node(
    url: str, key: bytes, *, hub_url: str, root: dict[str, Any], credential: str, line_url: str
) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    engine = node_engine(url)
    async with unit_of_work(session_factory(engine)) as session:
        await add_tenant(
            session, sealer=Sealer(key), code=TENANT, name="弥富市", hub_url=hub_url,
            root_keys=[root], line_channel_secret=CHANNEL_SECRET,
            line_access_token=CHANNEL_TOKEN, line_api_base_url=line_url,
            now=datetime.now(UTC), hub_credential=credential,
        )  # fmt: skip
    await engine.dispose()


def copy_friends(url: str, count: int) -> float:
    """Every bench resident as a current friend, with COPY; seconds taken."""
    started = time.monotonic()
    stamp = datetime.now(UTC).isoformat()
    with psycopg.connect(url) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY line_friends (tenant_code, user_id, is_friend, last_event_ms, updated_at) "
                "FROM STDIN"
            ) as copy,
        ):
            chunk = io.StringIO()
            for index in range(count):
                chunk.write(f"{TENANT}\t{bench_user_id(CHANNEL, index)}\tt\t1\t{stamp}\n")
                if index % 50_000 == 49_999:
                    copy.write(chunk.getvalue())
                    chunk = io.StringIO()
            copy.write(chunk.getvalue())
        conn.commit()
        conn.execute("ANALYZE line_friends")
    return time.monotonic() - started


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size of a process (VmHWM), KiB; None when not readable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU of every PostgreSQL server process on this machine (other databases included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in {"postgres", "postmaster"}:
                total += cpu_seconds(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return total


def node_pid(service: Service) -> int:
    """The node's own process (``python -m todoke`` or, profiled, its ``cProfile`` wrapper)."""
    return service.process.pid


PROFILED_NODE = """
import cProfile, os, signal, sys
from todoke.cli import main
profile = cProfile.Profile()
output, ready = sys.argv[1], sys.argv[2]
def dump(*_):
    profile.disable()
    profile.dump_stats(output)
    os._exit(0)
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["todoke", "node", "serve", "--port", "0", "--ready-file", ready]
profile.enable()
main()
"""


def start_node(workdir: Path, env: dict[str, str], profile: Path | None) -> Service:
    if profile is None:
        return start_service("node", ["node", "serve"], env=env, workdir=workdir)
    ready = workdir / "node.ready.json"
    log = open(workdir / "node.log", "ab")  # noqa: SIM115 - closed by Service.stop
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", PROFILED_NODE, str(profile), str(ready)],
        env={**os.environ, **env}, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the profiled node did not start; see node.log")
        time.sleep(0.05)
    url = json.loads(ready.read_text())["url"]
    return Service("node", process, url, workdir / "node.log", log)


def start_worker(workdir: Path, index: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``todoke node dispatch-worker`` (sends only), ready when its ready file appears."""
    ready = workdir / f"worker{index}.ready.json"
    log = open(workdir / f"worker{index}.log", "ab")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "todoke", "node", "dispatch-worker", "--ready-file", str(ready)],
        env={**os.environ, **env}, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dispatch worker {index} did not start; see its log")
        time.sleep(0.05)
    return process


def stop_node(node: Service, profile: Path | None) -> None:
    if profile is not None:
        node.process.send_signal(signal.SIGUSR1)
        node.process.wait(timeout=60)
    node.stop()


def job_row(url: str) -> dict[str, Any] | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT id, state, targeted, batches, created_at, planned_at, finished_at "
            "FROM send_jobs ORDER BY id LIMIT 1"
        ).fetchone()
    if row is None:
        return None
    keys = ("id", "state", "targeted", "batches", "created_at", "planned_at", "finished_at")
    return dict(zip(keys, row, strict=True))


def send_figures(url: str, job_id: int) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT verified_at FROM notices LIMIT 1").fetchone()
        first, last, sent, failed, attempts = conn.execute(
            "SELECT min(updated_at) FILTER (WHERE state = 'sent'), "
            "max(updated_at) FILTER (WHERE state = 'sent'), "
            "count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'failed'), "
            "sum(attempts) FROM outbox_batches WHERE job_id = %s",
            (job_id,),
        ).fetchone()
    return {
        "stored": stored[0] if stored else None,
        "first": first,
        "last": last,
        "sent": sent,
        "failed": failed,
        "attempts": attempts,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    pid = os.getpid()
    node_db, hub_db = f"todoke_bench_dispatch_{pid}", f"todoke_bench_dispatch_{pid}_hub"
    node_url, hub_url_db = database_url(args.pg_url, node_db), database_url(args.pg_url, hub_db)
    services: list[Service] = []
    workers: list[subprocess.Popen[bytes]] = []
    for name in (node_db, hub_db):
        admin(args.pg_url, f'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="todoke-bench-dispatch-"))
    try:
        root_key, publisher_key = generate_private_key(), generate_private_key()
        (workdir / "root.pem").write_bytes(private_key_to_pem(root_key))
        credential = asyncio.run(register_hub(hub_url_db, public_jwk(publisher_key)))
        hub_env = {
            "TODOKE_HUB_DATABASE_URL": hub_url_db,
            "TODOKE_HUB_HUB_ID": "bench",
            "TODOKE_HUB_ROOT_KEY_FILE": str(workdir / "root.pem"),
        }
        sandbox_env = {
            "TODOKE_SANDBOX_EXCHANGES_CAPACITY": "0",
            "TODOKE_SANDBOX_RECORD_INBOXES": "false",
        }
        sandbox = start_service("sandbox", ["sandbox", "serve"], env=sandbox_env, workdir=workdir)
        services.append(sandbox)
        hub = start_service("hub", ["hub", "serve"], env=hub_env, workdir=workdir)
        services.append(hub)
        started = time.monotonic()
        httpx.post(
            f"{sandbox.url}/sandbox/channels",
            json={"name": CHANNEL, "channel_secret": CHANNEL_SECRET,
                  "channel_access_token": CHANNEL_TOKEN, "bench": True,
                  "friend_count": args.recipients, "multicast_rate_per_second": LINE_RATE},
            timeout=600,
        ).raise_for_status()  # fmt: skip
        sandbox_setup = time.monotonic() - started

        key = secrets.token_bytes(32)
        root = {"kid": "hub-bench/root1", "jwk": public_jwk(root_key)}
        asyncio.run(
            prepare_node(node_url, key, hub_url=hub.url, root=root, credential=credential,
                         line_url=sandbox.url)
        )  # fmt: skip
        copy_seconds = copy_friends(node_url, args.recipients)
        node_env = {
            "TODOKE_NODE_DATABASE_URL": node_url,
            "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(key).decode(),
            "TODOKE_NODE_POLL_INTERVAL_SECONDS": "1",
        }
        if args.rate is not None:
            node_env["TODOKE_NODE_LINE_MULTICAST_RATE"] = str(args.rate)
        if args.burst is not None:
            node_env["TODOKE_NODE_LINE_MULTICAST_BURST"] = str(args.burst)
        if args.concurrency is not None:
            node_env["TODOKE_NODE_DISPATCH_CONCURRENCY"] = str(args.concurrency)
        if args.workers:
            # the node plans; the workers send, sharing the channel's rate
            node_env["TODOKE_NODE_DISPATCH_PROCESSES"] = str(args.workers)
            for index in range(args.workers):
                workers.append(start_worker(workdir, index, node_env))
            node_env = {**node_env, "TODOKE_NODE_DISPATCH_CONCURRENCY": "0"}
        node = start_node(workdir, node_env, args.profile)
        services.append(node)
        idle_kib = vm_hwm_kib(node_pid(node))

        notice = genkyo_todoke_notice(datetime.now(UTC))
        notice["audience"] = {}
        envelope = sign(notice, typ="todoke-notice+jws", kid="gov-cfa/bench",
                        private_key=publisher_key)  # fmt: skip
        cpu_before = cpu_seconds(node_pid(node))
        workers_cpu_before = [cpu_seconds(w.pid) for w in workers]
        sandbox_cpu_before = cpu_seconds(sandbox.process.pid)
        pg_cpu_before = postgres_cpu_seconds()
        published_at = datetime.now(UTC)
        answer = httpx.post(
            f"{hub.url}/graphql",
            json={"query": PUBLISH, "variables": {"e": envelope.model_dump()}},
            timeout=30,
        ).json()
        assert answer["data"]["publishNotice"]["__typename"] == "PublishAccepted", answer

        deadline = time.monotonic() + args.timeout
        job: dict[str, Any] | None = None
        peak_seen = 0
        while time.monotonic() < deadline:
            job = job_row(node_url)
            peak_seen = max(peak_seen, vm_hwm_kib(node_pid(node)) or 0)
            if job is not None and job["state"] not in ("planning", "sending"):
                break
            time.sleep(0.2)
        if job is None or job["state"] != "done":
            raise RuntimeError(f"the send did not finish in {args.timeout}s: {job}")
        peak_kib = vm_hwm_kib(node_pid(node)) or peak_seen
        node_cpu = cpu_seconds(node_pid(node)) - cpu_before
        workers_cpu = [
            cpu_seconds(w.pid) - b for w, b in zip(workers, workers_cpu_before, strict=True)
        ]
        workers_kib = [vm_hwm_kib(w.pid) or 0 for w in workers]
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
        sandbox_cpu = cpu_seconds(sandbox.process.pid) - sandbox_cpu_before
        pg_cpu = postgres_cpu_seconds() - pg_cpu_before
        figures = send_figures(node_url, int(job["id"]))
        counts = httpx.get(f"{sandbox.url}/sandbox/channels/{CHANNEL}/counts", timeout=60).json()
        faults = httpx.get(f"{sandbox.url}/sandbox/channels/{CHANNEL}/stats", timeout=60).json()
        stop_node(node, args.profile)
        return {
            "recipients": args.recipients,
            "sandbox_setup_s": sandbox_setup,
            "copy_s": copy_seconds,
            "published_at": published_at,
            "job": job,
            "figures": figures,
            "counts": counts,
            "stats": faults,
            "idle_rss_kib": idle_kib,
            "peak_rss_kib": peak_kib,
            "node_cpu_s": node_cpu,
            "workers_cpu_s": workers_cpu,
            "workers_rss_kib": workers_kib,
            "sandbox_cpu_s": sandbox_cpu,
            "postgres_cpu_s": pg_cpu,
        }
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=30)
        for service in reversed(services):
            service.stop(kill=True)
            if args.logs is not None:
                args.logs.mkdir(parents=True, exist_ok=True)
                (args.logs / f"{service.name}.log").write_bytes(service.log_path.read_bytes())
        for name in (node_db, hub_db):
            admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


def report(result: dict[str, Any]) -> None:
    n = result["recipients"]
    job, fig, counts = result["job"], result["figures"], result["counts"]
    floor = n / BATCH / LINE_RATE
    stored_to_last = (fig["last"] - fig["stored"]).total_seconds()
    published_to_last = (fig["last"] - result["published_at"]).total_seconds()
    planned = (job["planned_at"] - job["created_at"]).total_seconds()
    first = (fig["first"] - fig["stored"]).total_seconds()
    print(f"recipients                               {n:,}")
    print(f"sandbox channel created ({n:,} friends)   {result['sandbox_setup_s']:.1f} s")
    print(f"line_friends COPY                        {result['copy_s']:.1f} s")
    print(f"batches sent / failed / attempts         {fig['sent']:,} / {fig['failed']} / "
          f"{fig['attempts']:,}")  # fmt: skip
    print(f"stored → first batch accepted            {first:.2f} s")
    print(f"job created → planning finished          {planned:.2f} s")
    print(f"stored → last batch accepted             {stored_to_last:.2f} s")
    print(f"published → last batch accepted          {published_to_last:.2f} s")
    print(f"floor (recipients ÷ 500 ÷ 200/s)         {floor:.2f} s")
    print(f"share of LINE's ceiling                  {floor / stored_to_last:.1%}")
    print(f"throughput                               {n / stored_to_last:,.0f} recipients/s, "
          f"{fig['sent'] / stored_to_last:.0f} requests/s")  # fmt: skip
    print(f"node CPU (user + system) during the send {result['node_cpu_s']:.2f} s "
          f"({result['node_cpu_s'] / max(fig['sent'], 1) * 1000:.2f} ms per batch)")  # fmt: skip
    for index, (cpu, kib) in enumerate(
        zip(result["workers_cpu_s"], result["workers_rss_kib"], strict=True)
    ):
        print(f"dispatch worker {index}: CPU / peak RSS      {cpu:.2f} s / {kib / 1024:.0f} MB")
    print(f"sandbox / PostgreSQL CPU during the send  {result['sandbox_cpu_s']:.2f} s / "
          f"{result['postgres_cpu_s']:.2f} s (PostgreSQL: whole server)")  # fmt: skip
    print(f"node RSS idle / peak (VmHWM)             {result['idle_rss_kib'] / 1024:.0f} MB / "
          f"{result['peak_rss_kib'] / 1024:.0f} MB")  # fmt: skip
    print(
        f"sandbox counts                           recipients {counts['recipients']:,}, "
        f"duplicates {counts['duplicates']}, max/recipient {counts['max_per_recipient']}, "
        f"multicast requests {counts['requests']:,}"
    )
    ok = counts["recipients"] == n and counts["duplicates"] == 0
    print(f"exactly once                             {'yes' if ok else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rate", type=float, default=None, help="node multicast rate (req/s)")
    parser.add_argument("--burst", type=int, default=None, help="node multicast burst")
    parser.add_argument("--concurrency", type=int, default=None, help="senders in the node")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="send from N `todoke node dispatch-worker` processes (the node only plans)",
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--profile", type=Path, default=None, help="cProfile output of the node")
    parser.add_argument("--logs", type=Path, default=None, help="keep the services' logs here")
    args = parser.parse_args()
    report(run(args))


if __name__ == "__main__":
    main()
