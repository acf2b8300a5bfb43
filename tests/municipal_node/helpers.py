"""Builders for node tests: a servable thread, residents CSV, signed notices, a hub client."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from ulid import ULID

from contracts.jws import TYP_NOTICE, SignedEnvelope, sign
from contracts.keys import private_key_from_seed, public_jwk
from todoke.serving import bind_socket, url_of

NOW = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
TENANT = "23235"
TENANT_NAME = "弥富市"
CHANNEL = "yatomi"
CHANNEL_SECRET = "0123456789abcdef0123456789abcdef"
CHANNEL_TOKEN = "node-test-channel-token"
ADMIN_TOKEN = "node-test-admin"

HUB_ID = "aichi"
ROOT_KID = "hub-aichi/root1"
ROOT_KEY = private_key_from_seed(bytes(range(100, 132)))
CFA_KID = "gov-cfa/2026a"
CFA_KEY = private_key_from_seed(bytes(range(132, 164)))
PREF_KID = "pref-23/2026a"
PREF_KEY = private_key_from_seed(bytes(range(164, 196)))

COLUMNS = ("resident_id", "household", "child_birth_dates", "district", "programs", "line_user_id")


def root_key_entry() -> dict[str, Any]:
    return {"kid": ROOT_KID, "jwk": public_jwk(ROOT_KEY)}


class LiveServer:
    """An ASGI app on a real uvicorn server on loopback, in its own thread and event loop."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self.sock = bind_socket("127.0.0.1", port)
        self.url = url_of(self.sock)
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def restart(self) -> LiveServer:
        """Stop, then serve the same app (lifespan run again) on the same port: a restart."""
        port = self.port
        self.stop()
        fresh = LiveServer(self.app, port)
        self.sock, self.server, self.thread = fresh.sock, fresh.server, fresh.thread
        return self.start()

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def write_csv(path: Path, rows: Iterable[Iterable[str]], header: Iterable[str] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(header))
        writer.writerows(list(row) for row in rows)
    return path


def new_ulid() -> str:
    return str(ULID())


def make_notice(**changes: Any) -> dict[str, Any]:
    """A valid Actual Alert from gov-cfa for the whole country; ``None`` removes a member."""
    ident = new_ulid()
    value: dict[str, Any] = {
        "schema": "todoke.notice/1",
        "publisher": "gov-cfa",
        "notice_id": ident,
        "document_id": ident,
        "revision": 1,
        "msg_type": "Alert",
        "status": "Actual",
        "sent": (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "effective": NOW.isoformat().replace("+00:00", "Z"),
        "expires": (NOW + timedelta(days=60)).isoformat().replace("+00:00", "Z"),
        "category": "benefit",
        "program": {"code": "jido-fuyo-teate", "name": "児童扶養手当"},
        "area": ["00"],
        "audience": {"household": ["single_parent"]},
        "action": {"url": "https://www.example.lg.jp/genkyo"},
        "content": {
            "ja": {
                "headline": "現況届の受付が始まりました",
                "body": "8月31日までに提出してください。",
            }
        },
    }
    for key, change in changes.items():
        if change is None:
            value.pop(key, None)
        else:
            value[key] = change
    return value


def signed(notice: dict[str, Any], *, kid: str = CFA_KID, key: Any = CFA_KEY) -> SignedEnvelope:
    return sign(notice, typ=TYP_NOTICE, kid=kid, private_key=key)


PUBLISH = """
mutation Publish($envelope: SignedEnvelopeInput!) {
  publishNotice(envelope: $envelope) {
    __typename
    ... on PublishAccepted { seq digest duplicate }
    ... on PublishRejected { code message }
  }
}
"""


async def publish(hub_url: str, notice: dict[str, Any], **sign_args: Any) -> dict[str, Any]:
    envelope = signed(notice, **sign_args)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{hub_url}/graphql",
            json={"query": PUBLISH, "variables": {"envelope": envelope.model_dump()}},
        )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["publishNotice"]
    assert result["__typename"] == "PublishAccepted", result
    return result
