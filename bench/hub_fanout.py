"""Hub fan-out and ingest benchmark (issue #3).

(a) N authenticated municipal subscribers (default 1,741, every municipality in Japan) hold a
    graphql-transport-ws subscription, spread over the hub replicas and over client processes;
    one notice is published; we time until every subscriber has been woken, read the notice
    from the feed with its credential and verified receipt and envelope itself — p50, p99, max.
(b) Sustained ingest: pre-signed notices through ``publishNotice`` by C concurrent publishers
    (each sends its next notice when the answer to the last arrived) across the replicas, at
    several levels of C, next to the raw Ed25519 verify rate of this machine in the same run.
    Few publishers measure the round trip (a batch's latency), many the capacity.

Run (PostgreSQL, two hub replicas):
    .venv/bin/python bench/hub_fanout.py
Options: --subscribers 1741 --replicas 2 --client-processes 2 --ingest 15000
         --concurrency 32,128,512 --per-request 1 --part a|b|both
         --pg-url postgresql://postgres@127.0.0.1:5432/test   (--sqlite: one replica on SQLite)
         --profile DIR [--profile-seconds 4 --profile-rate 200]   (py-spy on PATH)
Targets on a 2-core machine: (a) p99 ≤ 1 s; (b) ingest ≥ 25 % of the raw verify rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from contracts.jws import SignedEnvelope, sign
from contracts.keys import b64url_decode, generate_private_key, private_key_to_pem, public_jwk
from hub.db import create_engine, create_sessionmaker, upgrade_to_head
from hub.publishers.registry import add_publisher_key
from hub.subscribers.registry import add_subscriber
from todoke.demo.notices import genkyo_todoke_notice
from todoke.demo.processes import Service, start_service

HERE = Path(__file__).resolve().parent
ACCEPTED = b'{"data":{"publishNotice":{"__typename":"PublishAccepted",'
PUBLISH = """mutation P($e: SignedEnvelopeInput!) { publishNotice(envelope: $e) {
  __typename ... on PublishAccepted { seq } ... on PublishRejected { code message } } }"""


def municipality_codes(count: int) -> list[str]:
    """``count`` distinct, well-formed JIS X 0402 codes spread over the 47 prefectures."""
    per = -(-count // 47)
    codes = [f"{pref:02d}{100 + n:03d}" for n in range(per) for pref in range(1, 48)]
    return codes[:count]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def register(
    url: str, publisher_jwk: dict[str, str], codes: list[str]
) -> list[tuple[str, str]]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    now = datetime.now(UTC)
    credentials = []
    async with sessions() as session, session.begin():
        await add_publisher_key(
            session, publisher_id="gov-cfa", name="こども家庭庁", kid="gov-cfa/bench",
            jwk=publisher_jwk, areas=["00"], categories=["benefit", "procedure"],
            not_before=now - timedelta(days=1), not_after=now + timedelta(days=30), now=now,
        )  # fmt: skip
        for code in codes:
            registered = await add_subscriber(
                session, municipality=code, name=f"自治体{code}", node_jwk=None, now=now
            )
            credentials.append((code, registered.credential))
    await engine.dispose()
    return credentials


def fresh_database(args: argparse.Namespace, workdir: Path) -> tuple[str, str | None]:
    if args.sqlite:
        return f"sqlite:///{workdir / 'hub.db'}", None
    name = f"todoke_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return args.pg_url.rsplit("/", 1)[0] + "/" + name, name


def drop_database(args: argparse.Namespace, name: str | None) -> None:
    if name:
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (``/proc/<pid>/stat``; Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle so far (``/proc/stat``; Linux)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """User + system CPU of every ``postgres`` process on this machine so far (Linux)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def raw_verify_rate(envelopes: list[SignedEnvelope], public_key: Any) -> float:
    inputs = [
        (f"{e.protected}.{e.payload}".encode(), b64url_decode(e.signature)) for e in envelopes
    ]
    started = time.perf_counter()
    for data, signature in inputs:
        public_key.verify(signature, data)
    return len(inputs) / (time.perf_counter() - started)


def warm_up(hubs: list[Service], private: Any) -> None:
    """Each replica serves one publish first, as a running hub has: the first request of a fresh
    process pays one-off costs (imports, caches, the database pool) that are not measured."""
    for hub in hubs:
        warm = sign(genkyo_todoke_notice(datetime.now(UTC)), typ="todoke-notice+jws",
                    kid="gov-cfa/bench", private_key=private)  # fmt: skip
        httpx.post(f"{hub.url}/graphql", json={"query": PUBLISH, "variables": {"e": warm.model_dump()}},
                   timeout=30).raise_for_status()  # fmt: skip


def start_profiles(
    args: argparse.Namespace, targets: list[tuple[str, int]]
) -> list[subprocess.Popen[bytes]]:
    """py-spy on each (name, pid) for ``--profile-seconds``; nothing without ``--profile``."""
    if not args.profile:
        return []
    spies = [subprocess.Popen(
        ["py-spy", "record", "--nonblocking", *(["--native"] if os.environ.get("PYSPY_NATIVE") else []), "-p", str(pid), "-d", str(args.profile_seconds), "-r", str(args.profile_rate),
         "-f", "raw", "-o", f"{args.profile}/{name}.txt"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ) for name, pid in targets]  # fmt: skip
    time.sleep(1.0)
    return spies


def run_fanout(args: argparse.Namespace, hubs: list[Service], creds: list[tuple[str, str]],
               root: dict[str, Any], private: Any) -> dict[str, Any]:  # fmt: skip
    shares = [creds[i :: args.client_processes] for i in range(args.client_processes)]
    clients = []
    for share in shares:
        job = {"hubs": [hub.url for hub in hubs], "root_keys": {root["kid"]: root["jwk"]},
               "subscribers": share, "timeout": 60}  # fmt: skip
        process = subprocess.Popen(
            [sys.executable, str(HERE / "fanout_client.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdin is not None
        process.stdin.write(json.dumps(job))
        process.stdin.close()
        clients.append(process)
    for process in clients:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if line != "READY":
            raise SystemExit(f"client did not get ready: {line!r}")
    time.sleep(0.5)
    hub_cpu = [cpu_seconds(hub.process.pid) for hub in hubs]
    client_cpu = [cpu_seconds(process.pid) for process in clients]
    notice = genkyo_todoke_notice(datetime.now(UTC))
    envelope = sign(notice, typ="todoke-notice+jws", kid="gov-cfa/bench", private_key=private)
    spies = start_profiles(
        args,
        [(f"hub{i}", h.process.pid) for i, h in enumerate(hubs)]
        + [(f"client{i}", p.pid) for i, p in enumerate(clients)],
    )
    started = time.time()
    answer = httpx.post(
        f"{hubs[0].url}/graphql",
        json={"query": PUBLISH, "variables": {"e": envelope.model_dump()}},
        timeout=30,
    )
    published = time.time()
    done: list[float] = []
    hinted: list[float] = []
    answered: list[float] = []
    errors: list[str] = []
    error_count = 0
    results = []
    for index, process in enumerate(clients):
        assert process.stdout is not None
        results.append(json.loads(process.stdout.readline()))
        client_cpu[index] = cpu_seconds(process.pid) - client_cpu[index]
    for spy in spies:
        spy.wait()
    hub_cpu = [
        cpu_seconds(hub.process.pid) - before for hub, before in zip(hubs, hub_cpu, strict=True)
    ]
    for process, result in zip(clients, results, strict=True):
        process.wait(timeout=120)
        done += result["done"]
        hinted += result["hinted"]
        answered += result["answered"]
        errors += result["errors"]
        error_count += result["error_count"]
    latencies = [moment - started for moment in done]
    return {"answer": answer.json(), "publish_call_s": published - started, "latencies": latencies,
            "hint_latencies": [moment - started for moment in hinted],
            "answer_latencies": [moment - started for moment in answered],
            "errors": errors, "error_count": error_count,
            "hub_cpu": hub_cpu, "client_cpu": client_cpu}  # fmt: skip


@dataclass
class IngestRun:
    concurrency: int
    rate: float
    accepted: int
    hub_cpu: list[float]
    cores: dict[str, float]  # CPU cores busy during the run, by whom


def publish_bodies(envelopes: list[SignedEnvelope], per_request: int) -> list[bytes]:
    """The publishers' requests, prepared ahead: one ``publishNotice`` per notice, or
    ``per_request`` aliased fields per request (a bulk publish)."""
    if per_request == 1:
        return [json.dumps({"query": PUBLISH, "variables": {"e": e.model_dump()}}).encode()
                for e in envelopes]  # fmt: skip
    bodies = []
    for start in range(0, len(envelopes), per_request):
        chunk = envelopes[start : start + per_request]
        definitions = ", ".join(f"$e{i}: SignedEnvelopeInput!" for i in range(len(chunk)))
        fields = " ".join(f"p{i}: publishNotice(envelope: $e{i}) {{ __typename }}"
                          for i in range(len(chunk)))  # fmt: skip
        variables = {f"e{i}": e.model_dump() for i, e in enumerate(chunk)}
        query = f"mutation Bulk({definitions}) {{ {fields} }}"
        bodies.append(json.dumps({"query": query, "variables": variables}).encode())
    return bodies


def accepted_in(answer: bytes) -> int:
    """PublishAccepted fields in a hub's answer; the common single-notice answer is checked
    without decoding it (this client's CPU is taken from the hubs')."""
    if answer.startswith(ACCEPTED):
        return 1
    data = json.loads(answer)["data"]
    return sum(1 for field in data.values() if field["__typename"] == "PublishAccepted")


async def run_ingest(
    hubs: list[Service], envelopes: list[SignedEnvelope], concurrency: int, per_request: int
) -> IngestRun:
    """Publish every envelope with ``concurrency`` clients (each sends its next notice when its
    answer arrived) spread over the replicas (``RawHttp`` keep-alive connections: httpx's own
    CPU per request would compete with the hubs on this machine)."""
    from fanout_client import RawHttp  # bench/ is on sys.path when run as a script

    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in publish_bodies(envelopes, per_request):  # prepared ahead, as signed ahead
        queue.put_nowait(body)
    accepted = 0
    pools = [RawHttp(hub.url, concurrency) for hub in hubs]

    async def worker(index: int) -> None:
        nonlocal accepted
        pool = pools[index % len(pools)]
        while not queue.empty():
            answer = await pool.post_raw("/graphql", queue.get_nowait(), {})
            accepted += accepted_in(answer)  # not `+= await …`: that reads the total first

    cpu = [cpu_seconds(hub.process.pid) for hub in hubs]
    busy, mine, database = machine_busy_seconds(), time.process_time(), postgres_cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = [cpu_seconds(hub.process.pid) - before for hub, before in zip(hubs, cpu, strict=True)]
    busy, mine = machine_busy_seconds() - busy, time.process_time() - mine
    database = postgres_cpu_seconds() - database
    cores = {"machine": busy, "hubs": sum(cpu), "PostgreSQL": database, "this client": mine}
    cores["the rest"] = busy - sum(cpu) - mine - database
    return IngestRun(concurrency, accepted / elapsed, accepted, cpu,
                     {name: value / elapsed for name, value in cores.items()})  # fmt: skip


def report_ingest(runs: list[IngestRun], raw: float, args: argparse.Namespace) -> None:
    print(f"(b) ingest through publishNotice, {args.ingest} pre-signed notices per level, "
          f"{args.per_request} per request, "
          f"{args.replicas} replica(s); raw Ed25519 verify on this machine: {raw:,.0f}/s (one core)")  # fmt: skip
    for run in runs:
        cores = ", ".join(
            f"{name} {value:.2f}" for name, value in run.cores.items() if name != "machine"
        )
        print(f"    {run.concurrency:>4} concurrent publishers: {run.rate:,.0f} notices/s = "
              f"{run.rate / raw:.1%} of raw verify; {run.accepted} accepted; hub CPU "
              f"{sum(run.hub_cpu) / max(1, run.accepted) * 1000:.2f} ms per notice; cores busy "
              f"{run.cores['machine']:.2f} of {os.cpu_count()} ({cores})")  # fmt: skip
    best = max(runs, key=lambda run: run.rate)
    print(f"    best: {best.rate:,.0f} notices/s at {best.concurrency} concurrent publishers = "
          f"{best.rate / raw:.1%} of raw verify (target ≥ 25 %)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1741)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--ingest", type=int, default=15000, help="notices per concurrency level")
    parser.add_argument(
        "--per-request", type=int, default=1, help="publishNotice fields per request (bulk)"
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[32, 128, 512],
        help="concurrent publishers, one ingest run per level (comma-separated)",
    )
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite", action="store_true", help="one replica on SQLite instead")
    parser.add_argument(
        "--profile",
        help="directory for py-spy raw profiles: hubs and clients during (a), hubs during (b)",
    )
    parser.add_argument(
        "--part",
        choices=("a", "b", "both"),
        default="both",
        help="(a) fan-out, (b) ingest, or both",
    )
    parser.add_argument("--profile-seconds", type=int, default=4)
    parser.add_argument("--profile-rate", type=int, default=200, help="py-spy samples per second")
    args = parser.parse_args()
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy on PATH (.venv/bin/pip install py-spy)")
    if args.sqlite:
        args.replicas = 1

    workdir = Path(tempfile.mkdtemp(prefix="todoke-bench-"))
    url, dbname = fresh_database(args, workdir)
    hubs: list[Service] = []
    try:
        root_key, publisher_key = generate_private_key(), generate_private_key()
        (workdir / "root.pem").write_bytes(private_key_to_pem(root_key))
        env = {"TODOKE_HUB_DATABASE_URL": url, "TODOKE_HUB_HUB_ID": "bench",
               "TODOKE_HUB_ROOT_KEY_FILE": str(workdir / "root.pem"),
               # the benchmark measures throughput, not the per-client limits
               "TODOKE_HUB_RATE_PUBLISH_PER_SECOND": "100000", "TODOKE_HUB_RATE_PUBLISH_BURST": "100000",
               "TODOKE_HUB_RATE_READ_PER_SECOND": "100000", "TODOKE_HUB_RATE_READ_BURST": "100000"}  # fmt: skip
        upgrade_to_head(url)
        codes = municipality_codes(args.subscribers)
        creds = asyncio.run(register(url, public_jwk(publisher_key), codes))
        for index in range(args.replicas):
            hubs.append(start_service(f"hub{index}", ["hub", "serve"], env=env, workdir=workdir))
        root = {"kid": "hub-bench/root1", "jwk": public_jwk(root_key)}

        warm_up(hubs, publisher_key)
        if not args.sqlite:  # as autovacuum has on any hub in service (docs/BENCHMARKS.md)
            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute("ANALYZE")
        if args.part in ("a", "both"):
            print(f"load average before (a): {loadavg()}")
            fanout = run_fanout(args, hubs, creds, root, publisher_key)
            lat = fanout["latencies"]
            print(f"(a) fan-out: {len(codes)} subscribers, {args.replicas} hub replica(s), "
                  f"{args.client_processes} client processes, {'SQLite' if args.sqlite else 'PostgreSQL'}")  # fmt: skip
            print(
                f"    publish answer: {fanout['answer']['data']['publishNotice']}  ({fanout['publish_call_s'] * 1000:.0f} ms)"
            )
            print(
                f"    read+verified by {len(lat)} of {len(codes)} subscribers; errors: {fanout['error_count']}"
            )
            for error in fanout["errors"][:5]:
                print(f"      e.g. {error}")
            if lat:
                print(f"    latency from publish: p50 {statistics.median(lat) * 1000:.0f} ms, "
                      f"p99 {pct(lat, 99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms  (target p99 ≤ 1000 ms)")  # fmt: skip
                hints = fanout["hint_latencies"]
                print(f"    of which the hint arrived: p50 {statistics.median(hints) * 1000:.0f} ms, "
                      f"p99 {pct(hints, 99) * 1000:.0f} ms, max {max(hints) * 1000:.0f} ms")  # fmt: skip
                print(f"    CPU during (a): hubs {' + '.join(f'{c:.2f}' for c in fanout['hub_cpu'])} s "
                      f"({sum(fanout['hub_cpu']) / len(lat) * 1000:.2f} ms per subscriber), clients "
                      f"{' + '.join(f'{c:.2f}' for c in fanout['client_cpu'])} s")  # fmt: skip
                answers = fanout["answer_latencies"]
                print(f"    of which the feed answer arrived: p50 {statistics.median(answers) * 1000:.0f} ms, "
                      f"p99 {pct(answers, 99) * 1000:.0f} ms, max {max(answers) * 1000:.0f} ms")  # fmt: skip

        if args.part in ("b", "both"):
            now = datetime.now(UTC)
            envelopes = [
                sign(genkyo_todoke_notice(now), typ="todoke-notice+jws", kid="gov-cfa/bench",
                     private_key=publisher_key)
                for _ in range(args.ingest * len(args.concurrency))
            ]  # fmt: skip
            print(f"load average before (b): {loadavg()}")
            raw = raw_verify_rate(envelopes[: args.ingest], publisher_key.public_key())
            spies = start_profiles(
                args, [(f"hub{i}-ingest", h.process.pid) for i, h in enumerate(hubs)]
            )
            runs = []
            for level, concurrency in enumerate(args.concurrency):
                share = envelopes[level * args.ingest : (level + 1) * args.ingest]
                runs.append(asyncio.run(run_ingest(hubs, share, concurrency, args.per_request)))
            for spy in spies:
                spy.wait()
            report_ingest(runs, raw, args)
        print(f"load average after: {loadavg()}")
    finally:
        for hub in hubs:
            hub.stop()
        drop_database(args, dbname)


if __name__ == "__main__":
    main()
