"""One client process of bench/hub_fanout.py: many municipal subscribers over WebSocket.

Reads a JSON job on stdin: {"hubs": [url…], "root_keys": {kid: jwk}, "subscribers":
[[municipality, credential], …]}. Opens one graphql-transport-ws connection per subscriber
(spread over the hubs), authenticates, subscribes to ``noticePublished`` and prints ``READY``.
On its hint each subscriber reads the feed over HTTP with its credential, verifies the key set
(once per process), the receipt and the envelope with ``contracts``, and records the wall-clock
time. Prints one JSON line {"done": [timestamps…], "errors": […]} and exits.

The feed is read with a minimal HTTP/1.1 keep-alive client on asyncio streams (``RawHttp``), not
httpx: httpx spends ~3-4 ms of CPU per request, and 1,741 simulated nodes share this machine's
two cores with the hubs (real nodes each have their own machine). Each subscriber still sends
its own request with its own credential and verifies the answer itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from contracts.jws import SignedEnvelope
from contracts.keys import public_key_from_jwk
from contracts.verify import KeySetLookup, verify_keyset, verify_notice, verify_receipt

SUBSCRIBE = "subscription { noticePublished { seq } }"
FEED = """query Feed($after: Int!) { notices(after: $after, first: 10) {
  scannedTo items { seq envelope { protected payload signature } receipt { protected payload signature } } } }"""
KEYSET = "{ keySet { protected payload signature } }"


class _Closed(Exception):
    """The server closed the connection before answering."""


class RawHttp:
    """POST JSON over a small pool of keep-alive HTTP/1.1 connections to one origin."""

    def __init__(self, url: str, size: int) -> None:
        host_port = url.split("://", 1)[1].rstrip("/")
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        self.size = size
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open = 0
        self.freed = asyncio.Condition()

    async def _acquire(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self.freed:
            while not self.idle and self.open >= self.size:
                await self.freed.wait()
            if self.idle:
                return self.idle.pop()
            self.open += 1
        try:
            return await asyncio.open_connection(self.host, self.port)
        except BaseException:
            async with self.freed:
                self.open -= 1
                self.freed.notify()
            raise

    async def _release(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None
    ) -> None:
        async with self.freed:
            if conn is None:
                self.open -= 1
            else:
                self.idle.append(conn)
            self.freed.notify()

    async def warm(self, count: int) -> None:
        """Open ``count`` keep-alive connections ahead, as a running node holds its own."""
        opened = await asyncio.gather(
            *(asyncio.open_connection(self.host, self.port) for _ in range(count))
        )
        async with self.freed:
            self.idle.extend(opened)
            self.open += len(opened)
            self.freed.notify_all()

    async def post_json(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        return await self.post_encoded(path, json.dumps(body).encode(), headers)

    async def post_encoded(self, path: str, data: bytes, headers: dict[str, str]) -> Any:
        """POST a JSON body encoded ahead (e.g. a publisher's prepared requests)."""
        return json.loads(await self.post_raw(path, data, headers))

    async def post_raw(self, path: str, data: bytes, headers: dict[str, str]) -> bytes:
        """``post_encoded`` without decoding the answer."""
        try:
            return await self._post(path, data, headers)
        except _Closed:  # an idle keep-alive connection the server closed: once more, fresh
            return await self._post(path, data, headers)

    async def _post(self, path: str, data: bytes, headers: dict[str, str]) -> bytes:
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                "Content-Type: application/json", f"Content-Length: {len(data)}"]  # fmt: skip
        head += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        conn = await self._acquire()
        try:
            reader, writer = conn
            writer.write(request)
            status = await reader.readline()
            if not status:
                raise _Closed
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
        except BaseException:
            conn[1].close()
            await self._release(None)
            raise
        await self._release(conn)
        if b" 200 " not in status:
            raise RuntimeError(f"HTTP {status!r}: {payload[:200]!r}")
        return payload


class Subscriber:
    def __init__(self, municipality: str, credential: str, hub: str) -> None:
        self.municipality = municipality
        self.credential = credential
        self.hub = hub


async def _keyset(client: httpx.AsyncClient, hub: str, root_keys: dict[str, Any]) -> KeySetLookup:
    response = await client.post(f"{hub}/graphql", json={"query": KEYSET})
    envelope = SignedEnvelope(**response.json()["data"]["keySet"])
    roots = {kid: public_key_from_jwk(jwk) for kid, jwk in root_keys.items()}
    return KeySetLookup(verify_keyset(envelope, root_keys=roots, now=datetime.now(UTC)))


async def _read_and_verify(
    client: RawHttp, sub: Subscriber, seq: int, keys: KeySetLookup, roots: dict[str, Any]
) -> float:
    """Read the feed after ``seq - 1`` and verify notice ``seq``; return when the answer came."""
    answer = await client.post_json(
        "/graphql",
        {"query": FEED, "variables": {"after": seq - 1}},
        {"Authorization": f"Bearer {sub.credential}"},
    )
    answered = time.time()
    items = answer["data"]["notices"]["items"]
    item = next(entry for entry in items if entry["seq"] == seq)
    receipt = verify_receipt(SignedEnvelope(**item["receipt"]), root_keys=roots)
    verify_notice(
        SignedEnvelope(**item["envelope"]),
        keys=keys,
        received_at=receipt.received_at,
        now=datetime.now(UTC),
    )
    return answered


async def _subscriber(
    sub: Subscriber,
    ready: asyncio.Queue[str],
    client: RawHttp,
    keys: KeySetLookup,
    roots: dict[str, Any],
    done: list[float],
    hinted: list[float],
    answered: list[float],
    errors: list[str],
    release: asyncio.Event,
) -> None:
    ws_url = sub.hub.replace("http://", "ws://") + "/graphql"
    try:
        async with connect(
            ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=60
        ) as ws:
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"authorization": f"Bearer {sub.credential}"},
                    }
                )
            )
            ack = json.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no ack: {ack}")
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
            )
            await ready.put(sub.municipality)
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                    continue
                if message.get("type") == "next":
                    hinted.append(time.time())
                    seq = int(message["payload"]["data"]["noticePublished"]["seq"])
                    answered.append(await _read_and_verify(client, sub, seq, keys, roots))
                    done.append(time.time())
                    # stay connected until every subscriber is measured: 1,741 closing
                    # handshakes are not part of the fan-out and would take CPU from it
                    await release.wait()
                    return
    except Exception as exc:  # a benchmark reports every failure rather than dying on one
        errors.append(f"{sub.municipality}: {type(exc).__name__}: {exc}")
        await ready.put(sub.municipality)


async def main() -> None:
    job = json.loads(sys.stdin.read())
    hubs: list[str] = job["hubs"]
    roots = {kid: public_key_from_jwk(jwk) for kid, jwk in job["root_keys"].items()}
    subs = [Subscriber(m, c, hubs[i % len(hubs)]) for i, (m, c) in enumerate(job["subscribers"])]
    done: list[float] = []
    hinted: list[float] = []
    answered: list[float] = []
    errors: list[str] = []
    ready: asyncio.Queue[str] = asyncio.Queue()
    connections = int(job.get("connections", 64))
    pools = {hub: RawHttp(hub, connections) for hub in hubs}
    release = asyncio.Event()
    async with httpx.AsyncClient(timeout=60) as client:
        keys = await _keyset(client, hubs[0], job["root_keys"])
        tasks = []
        for sub in subs:
            tasks.append(
                asyncio.create_task(
                    _subscriber(
                        sub,
                        ready,
                        pools[sub.hub],
                        keys,
                        roots,
                        done,
                        hinted,
                        answered,
                        errors,
                        release,
                    )
                )
            )
            await asyncio.sleep(0)  # let connections open progressively
        for _ in subs:
            await ready.get()
        await asyncio.gather(*(pool.warm(connections) for pool in pools.values()))
        print("READY", flush=True)
        deadline = time.monotonic() + float(job.get("timeout", 60))
        while len(done) + len(errors) < len(subs) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        result = {"done": done, "hinted": hinted, "answered": answered,
                  "errors": errors[:20], "error_count": len(errors)}  # fmt: skip
        print(json.dumps(result), flush=True)
        release.set()
        await asyncio.wait(tasks, timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
