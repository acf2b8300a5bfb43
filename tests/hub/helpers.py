"""Builders for hub tests: keys, notices, envelopes, a settable clock, a small GraphQL client."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ulid import ULID

from contracts.jws import TYP_NOTICE, SignedEnvelope, digest, sign
from contracts.keys import private_key_from_seed, public_jwk

NOW = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
HUB_ID = "aichi"
ROOT_KID = "hub-aichi/root1"
ROOT_KEY = private_key_from_seed(bytes(range(64, 96)))
CFA_KEY = private_key_from_seed(bytes(range(32)))
CFA_KID = "gov-cfa/2026a"
PREF_KEY = private_key_from_seed(bytes(range(32, 64)))
PREF_KID = "pref-23/2026a"
SUBSCRIBER = "23235"  # 弥富市 (愛知県): sees areas 00, 23 and 23235


@dataclass
class FixedClock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at = self.at + delta


def new_ulid() -> str:
    return str(ULID())


def make_notice(**changes: Any) -> dict[str, Any]:
    """A valid Alert from gov-cfa (area 00, benefit); ``None`` removes a member."""
    ident = new_ulid()
    value: dict[str, Any] = {
        "schema": "todoke.notice/1",
        "publisher": "gov-cfa",
        "notice_id": ident,
        "document_id": ident,
        "revision": 1,
        "msg_type": "Alert",
        "status": "Actual",
        "sent": "2026-03-31T23:55:00Z",
        "effective": "2026-04-01T00:00:00Z",
        "expires": "2026-06-30T15:00:00Z",
        "category": "benefit",
        "program": {"code": "jido-fuyo-teate", "name": "児童扶養手当"},
        "area": ["00"],
        "audience": {"household": ["single_parent"]},
        "content": {
            "ja": {"headline": "現況届のお知らせ 🌸", "body": "8月31日までに提出してください。"}
        },
    }
    for key, item in changes.items():
        if item is None:
            value.pop(key, None)
        else:
            value[key] = copy.deepcopy(item)
    return value


def follow_up(
    previous: dict[str, Any], envelope: SignedEnvelope, *, msg_type: str = "Update", **changes: Any
) -> dict[str, Any]:
    """An Update/Cancel of ``previous`` (signed as ``envelope``) with the next revision."""
    reference = {
        "publisher": previous["publisher"],
        "notice_id": previous["notice_id"],
        "revision": previous["revision"],
        "digest": digest(envelope.payload_bytes()),
    }
    base: dict[str, Any] = {
        "notice_id": new_ulid(),
        "document_id": previous["document_id"],
        "revision": previous["revision"] + 1,
        "msg_type": msg_type,
        "references": [reference],
        "publisher": previous["publisher"],
    }
    if msg_type == "Cancel":
        base["cancel_reason"] = "制度変更のため取り消します"
    base.update(changes)
    return make_notice(**base)


def signed(
    notice: dict[str, Any], *, kid: str = CFA_KID, key: Ed25519PrivateKey = CFA_KEY
) -> SignedEnvelope:
    return sign(notice, typ=TYP_NOTICE, kid=kid, private_key=key)


@dataclass
class KeySpec:
    publisher: str
    name: str
    kid: str
    key: Ed25519PrivateKey
    areas: list[str]
    categories: list[str]
    not_before: datetime = NOW - timedelta(days=30)
    not_after: datetime = NOW + timedelta(days=300)
    jwk: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.jwk = public_jwk(self.key)


def cfa_key(**changes: Any) -> KeySpec:
    values: dict[str, Any] = {
        "publisher": "gov-cfa",
        "name": "こども家庭庁",
        "kid": CFA_KID,
        "key": CFA_KEY,
        "areas": ["00"],
        "categories": ["benefit", "procedure"],
    }
    values.update(changes)
    return KeySpec(**values)


def pref_key(**changes: Any) -> KeySpec:
    values: dict[str, Any] = {
        "publisher": "pref-23",
        "name": "愛知県",
        "kid": PREF_KID,
        "key": PREF_KEY,
        "areas": ["23"],
        "categories": ["benefit"],
    }
    values.update(changes)
    return KeySpec(**values)


PUBLISH = """
mutation($envelope: SignedEnvelopeInput!) {
  publishNotice(envelope: $envelope) {
    __typename
    ... on PublishAccepted {
      seq publisher noticeId digest duplicate receipt { protected payload signature }
    }
    ... on PublishRejected { code message }
  }
}
"""

FEED = """
query($after: Int!, $first: Int!) {
  notices(after: $after, first: $first) {
    lastSeq hasMore
    items { seq envelope { protected payload signature } receipt { protected payload signature } }
  }
}
"""

FEED_FULL = """
query($after: Int!, $first: Int!) {
  notices(after: $after, first: $first) {
    lastSeq hasMore scannedTo
    items {
      seq status expired
      envelope { protected payload signature } receipt { protected payload signature }
    }
  }
}
"""


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


KEYSET = "{ keySet { protected payload signature } }"


class HubApi:
    """The hub's GraphQL API over any httpx client (ASGI transport or a real socket)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def publish(self, envelope: SignedEnvelope) -> dict[str, Any]:
        body = await self.graphql(PUBLISH, {"envelope": envelope.model_dump()})
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["publishNotice"]
        return result

    async def feed(self, after: int = 0, first: int = 1000) -> dict[str, Any]:
        body = await self.graphql(FEED, {"after": after, "first": first})
        assert "errors" not in body, body
        page: dict[str, Any] = body["data"]["notices"]
        return page

    async def feed_as(
        self, credential: str | None, after: int = 0, first: int = 1000
    ) -> dict[str, Any]:
        """The full feed page (scannedTo, status, expired) read with ``credential``."""
        headers = {"Authorization": ""} if credential is None else bearer(credential)
        body = await self.graphql(FEED_FULL, {"after": after, "first": first}, headers)
        assert "errors" not in body, body
        page: dict[str, Any] = body["data"]["notices"]
        return page

    async def key_set(self) -> SignedEnvelope:
        body = await self.graphql(KEYSET)
        assert "errors" not in body, body
        return SignedEnvelope(**body["data"]["keySet"])


def envelope_of(item: dict[str, Any]) -> SignedEnvelope:
    return SignedEnvelope(**item)
