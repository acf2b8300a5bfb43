"""How fast one LINE sandbox process serves multicast of 500 recipients in bench mode.

Starts a real sandbox (``todoke sandbox serve --port 0 --ready-file``), creates bench channels of
``--friends`` friends (ids computed from the index: ``line_sandbox.roster.bench_user_id``) and
hammers ``POST /v2/bot/message/multicast`` from ``--procs`` client processes, each with
``--concurrency`` requests in flight, for ``--seconds`` per phase. Every request is a full,
valid LINE request: 500 distinct ids, a text and a Flex message, ``customAggregationUnits`` and
a fresh ``X-Line-Retry-Key``.

Phases:
1. ``paced``: the channel enforces LINE's real 200 multicast requests/s; the clients pace
   themselves at ``--paced-rate`` (default 190/s, the margin a sender keeps) — what the sandbox
   costs while a node sends at full LINE speed.
2. ``limited``: the same limit; the clients send as fast as they can, so many answers are 429 —
   the accepted rate must be ≤ 200/s.
3. ``unlimited``: the limit lifted; how many requests/s the sandbox sustains.

Printed per phase: accepted and rejected requests/s, p50/p99 latency, the sandbox's CPU (share of
one core and µs per request, from /proc) and the clients' CPU per request; then the sandbox's own
counts, which must equal 500 × accepted requests.

``--client httpx`` (default) uses httpx.AsyncClient; ``--client raw`` a minimal HTTP/1.1
keep-alive client on asyncio streams, ~20× cheaper per request, for when the load generator
rather than the sandbox is the limit (both share the machine).

    .venv/bin/python bench/sandbox_multicast.py --seconds 10 --procs 2 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from line_sandbox.roster import bench_prefix

TOKEN_PREFIX = "bench-token-"  # noqa: S105 (a throwaway sandbox channel token)
BATCH = 500
LINE_MULTICAST_LIMIT = 200
FLEX = {
    "type": "flex",
    "altText": "児童手当の申請受付が始まりました",
    "contents": {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {"type": "text", "text": "児童手当の申請受付が始まりました", "wrap": True},
                {"type": "text", "text": "〇〇市 子ども家庭課 0567-00-0000", "size": "sm"},
            ],
        },
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {
                    "type": "button",
                    "action": {"type": "uri", "label": "詳しく見る", "uri": "https://example.jp/n"},
                }
            ],
        },
    },
}
TEXT = {
    "type": "text",
    "text": "【〇〇市】児童手当の申請受付が始まりました。詳しくは下のボタンから。",
}


@dataclass
class Job:
    url: str
    token: str
    prefix: str
    friends: int
    first_batch: int
    batch_step: int
    concurrency: int
    seconds: float
    client: str
    lane_offset: int = 0  # this process's first lane among all lanes (pacing)
    lanes_total: int = 1
    rate: float = 0.0  # requests/s over all processes; 0 = as fast as possible


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    cpu_seconds: float = 0.0


def body_for(job: Job, batch: int) -> bytes:
    start = (batch * BATCH) % job.friends
    ids = [f"{job.prefix}{(start + i) % job.friends:08x}" for i in range(BATCH)]
    payload = {"to": ids, "messages": [TEXT, FLEX], "customAggregationUnits": ["bench_notice"]}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class RawClient:
    """HTTP/1.1 keep-alive POSTs on one connection; just enough to read status and body."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _hammer(job: Job) -> Result:
    result = Result()
    headers = {"Authorization": f"Bearer {job.token}", "Content-Type": "application/json"}
    deadline = time.monotonic() + job.seconds
    limits = httpx.Limits(max_connections=job.concurrency)
    async with httpx.AsyncClient(base_url=job.url, limits=limits, timeout=30) as client:

        async def loop(lane: int) -> None:
            raw = RawClient(job.url) if job.client == "raw" else None
            batch = job.first_batch + lane * job.batch_step
            interval = job.lanes_total / job.rate if job.rate else 0.0
            due = time.monotonic() + interval * (job.lane_offset + lane) / job.lanes_total
            try:
                while time.monotonic() < deadline:
                    if interval:  # open loop: every lane sends on its own fixed schedule
                        await asyncio.sleep(max(0.0, due - time.monotonic()))
                        due += interval
                    body = body_for(job, batch)
                    batch += job.batch_step * job.concurrency
                    sent = {**headers, "X-Line-Retry-Key": str(uuid.uuid4())}
                    started = time.perf_counter()
                    if raw is not None:
                        status = await raw.post("/v2/bot/message/multicast", body, sent)
                    else:
                        response = await client.post(
                            "/v2/bot/message/multicast", content=body, headers=sent
                        )
                        status = response.status_code
                    result.latencies.append(time.perf_counter() - started)
                    result.statuses[status] += 1
            finally:
                if raw is not None:
                    await raw.close()

        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(loop(lane) for lane in range(job.concurrency)))
        after = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def _worker(job: Job, queue: Any) -> None:
    result = asyncio.run(_hammer(job))
    queue.put((result.latencies, dict(result.statuses), result.cpu_seconds))


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


def run_phase(
    name: str,
    url: str,
    pid: int,
    channel: str,
    rate: int,
    args: argparse.Namespace,
    *,
    paced: float = 0.0,
) -> None:
    token = TOKEN_PREFIX + channel
    created = time.perf_counter()
    httpx.post(
        f"{url}/sandbox/channels",
        json={
            "name": channel,
            "channel_secret": "bench-secret",
            "channel_access_token": token,
            "bench": True,
            "friend_count": args.friends,
            "multicast_rate_per_second": rate,
        },
        timeout=60,
    ).raise_for_status()
    creation_ms = (time.perf_counter() - created) * 1000
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(
                Job(
                    url=url,
                    token=token,
                    prefix=bench_prefix(channel),
                    friends=args.friends,
                    first_batch=i,
                    batch_step=args.procs,
                    concurrency=args.concurrency,
                    seconds=args.seconds,
                    client=args.client,
                    lane_offset=i * args.concurrency,
                    lanes_total=args.procs * args.concurrency,
                    rate=paced,
                ),
                queue,
            ),
        )
        for i in range(args.procs)
    ]
    cpu_before, started = process_cpu_seconds(pid), time.monotonic()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    elapsed = time.monotonic() - started
    sandbox_cpu = process_cpu_seconds(pid) - cpu_before
    for worker in workers:
        worker.join()
    statuses: Counter[int] = Counter()
    for _, counted, _ in results:
        statuses.update(counted)
    latencies = sorted(x for r in results for x in r[0])
    client_cpu = sum(r[2] for r in results)
    total = sum(statuses.values())
    accepted = statuses[200]
    counts = httpx.get(f"{url}/sandbox/channels/{channel}/counts", timeout=60).json()
    seconds = args.seconds
    offered = f"paced at {paced:g}/s" if paced else "as fast as possible"
    print(
        f"\n== {name}: multicast limit {rate:,}/s, {args.procs}×{args.concurrency} "
        f"{args.client} clients, {offered}"
    )
    print(f"  bench channel of {args.friends:,} friends created in {creation_ms:.0f} ms")
    print(f"  answers: {dict(sorted(statuses.items()))} in {elapsed:.1f} s (phase {seconds} s)")
    print(
        f"  accepted: {accepted / seconds:,.0f} req/s = {accepted * BATCH / seconds:,.0f} recipients/s"
    )
    print(f"  all answers: {total / seconds:,.0f} req/s")
    print(
        f"  latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )
    print(
        f"  sandbox CPU: {sandbox_cpu / elapsed * 100:.0f} % of one core, "
        f"{sandbox_cpu / max(total, 1) * 1e6:,.0f} µs per answer"
    )
    print(f"  client CPU: {client_cpu / max(total, 1) * 1e6:,.0f} µs per request")
    print(
        f"  sandbox counts: requests {counts['requests']:,}, messages {counts['messages']:,}, "
        f"recipients {counts['recipients']:,}, duplicates {counts['duplicates']:,}, "
        f"max per recipient {counts['max_per_recipient']}"
    )
    if counts["requests"] != accepted or counts["messages"] != accepted * BATCH:
        raise SystemExit("MISMATCH: the sandbox's counts disagree with the accepted answers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--friends", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight per process")
    parser.add_argument("--client", choices=("httpx", "raw"), default="httpx")
    parser.add_argument("--paced-rate", type=float, default=190.0, help="paced phase, req/s")
    parser.add_argument(
        "--phases",
        default="paced,limited,unlimited",
        help="comma-separated: paced,limited,unlimited",
    )
    args = parser.parse_args()
    todoke = Path(sys.executable).parent / "todoke"
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TODOKE_SANDBOX_")}
        server = subprocess.Popen(
            [str(todoke), "sandbox", "serve", "--port", "0", "--ready-file", str(ready)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the sandbox did not start")
                time.sleep(0.05)
            info = json.loads(ready.read_text())
            print(f"sandbox pid {info['pid']} at {info['url']}; {os.cpu_count()} CPUs")
            for phase in args.phases.split(","):
                rate = 1_000_000_000 if phase == "unlimited" else LINE_MULTICAST_LIMIT
                paced = args.paced_rate if phase == "paced" else 0.0
                channel = f"bench-{phase}"
                run_phase(phase, info["url"], info["pid"], channel, rate, args, paced=paced)
            rss = Path(f"/proc/{info['pid']}/status").read_text()
            peak = next(line for line in rss.splitlines() if line.startswith("VmHWM"))
            print(f"\nsandbox peak RSS: {peak.split(':')[1].strip()}")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
