"""One client process of bench/hub_fanout.py: many municipal subscribers over WebSocket.

Reads a JSON job on stdin: {"hubs": [url…], "root_keys": {kid: jwk}, "subscribers":
[[municipality, credential], …]}. Opens one graphql-transport-ws connection per subscriber
(spread over the hubs), authenticates, subscribes to ``noticePublished`` and prints ``READY``.
On its hint each subscriber reads the feed over HTTP with its credential, verifies the key set
(once per process), the receipt and the envelope with ``contracts``, and records the wall-clock
time. Prints one JSON line {"done": [timestamps…], "errors": […]} and exits.
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
    client: httpx.AsyncClient, sub: Subscriber, seq: int, keys: KeySetLookup, roots: dict[str, Any]
) -> None:
    response = await client.post(
        f"{sub.hub}/graphql",
        json={"query": FEED, "variables": {"after": seq - 1}},
        headers={"Authorization": f"Bearer {sub.credential}"},
    )
    items = response.json()["data"]["notices"]["items"]
    item = next(entry for entry in items if entry["seq"] == seq)
    receipt = verify_receipt(SignedEnvelope(**item["receipt"]), root_keys=roots)
    verify_notice(
        SignedEnvelope(**item["envelope"]),
        keys=keys,
        received_at=receipt.received_at,
        now=datetime.now(UTC),
    )


async def _subscriber(
    sub: Subscriber,
    ready: asyncio.Queue[str],
    client: httpx.AsyncClient,
    keys: KeySetLookup,
    roots: dict[str, Any],
    done: list[float],
    hinted: list[float],
    errors: list[str],
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
                    await _read_and_verify(client, sub, seq, keys, roots)
                    done.append(time.time())
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
    errors: list[str] = []
    ready: asyncio.Queue[str] = asyncio.Queue()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        keys = await _keyset(client, hubs[0], job["root_keys"])
        tasks = []
        for sub in subs:
            tasks.append(
                asyncio.create_task(
                    _subscriber(sub, ready, client, keys, roots, done, hinted, errors)
                )
            )
            await asyncio.sleep(0)  # let connections open progressively
        for _ in subs:
            await ready.get()
        print("READY", flush=True)
        await asyncio.wait(tasks, timeout=float(job.get("timeout", 60)))
    print(
        json.dumps(
            {"done": done, "hinted": hinted, "errors": errors[:20], "error_count": len(errors)}
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
