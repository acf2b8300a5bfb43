"""Reads the hub's GraphQL feed (``keySet`` + ``notices(after, first)``) over httpx.

The feed is read as a registered subscriber: ``Authorization: Bearer <credential>``. A hub
that refuses the credential answers a GraphQL error with ``extensions.code ==
"UNAUTHENTICATED"``; that is ``HubAuthError``, which the follower reports loudly and retries
with backoff (the operator fixes it with ``todoke node set-hub-credential``).
"""

from __future__ import annotations

from typing import Any

import httpx

from municipal_node.relay.schemas import FeedItem, FeedPage

FEED_QUERY = """
query Feed($after: Int!, $first: Int!) {
  keySet { protected payload signature }
  notices(after: $after, first: $first) {
    items {
      seq
      status
      expired
      envelope { protected payload signature }
      receipt { protected payload signature }
    }
    lastSeq
    scannedTo
    hasMore
  }
}
"""


class HubError(Exception):
    """The hub could not be read (network, HTTP status, GraphQL errors, malformed data)."""


class HubAuthError(HubError):
    """The hub refused our subscriber credential (missing, wrong, or the tenant is suspended)."""


def _envelope(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(name), str) for name in ("protected", "payload", "signature")
    ):
        raise HubError("malformed signed envelope in the hub's answer")
    return {name: str(value[name]) for name in ("protected", "payload", "signature")}


def _item(raw: Any) -> FeedItem:
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("seq"), int)
        or not isinstance(raw.get("status"), str)
        or not isinstance(raw.get("expired"), bool)
    ):
        raise HubError("malformed feed item")
    return FeedItem(
        raw["seq"],
        _envelope(raw.get("envelope")),
        _envelope(raw.get("receipt")),
        status=raw["status"],
        expired=raw["expired"],
    )


def parse_page(data: Any) -> FeedPage:
    if not isinstance(data, dict):
        raise HubError("hub answer has no data")
    feed = data.get("notices")
    if not isinstance(feed, dict) or not isinstance(feed.get("items"), list):
        raise HubError("hub answer has no notices")
    items = [_item(raw) for raw in feed["items"]]
    last_seq = feed.get("lastSeq")
    scanned_to = feed.get("scannedTo")
    has_more = feed.get("hasMore")
    if (
        not isinstance(last_seq, int)
        or not isinstance(scanned_to, int)
        or not isinstance(has_more, bool)
    ):
        raise HubError("malformed feed page")
    return FeedPage(_envelope(data.get("keySet")), items, last_seq, has_more, scanned_to)


def _error_codes(errors: Any) -> tuple[set[str], str]:
    codes: set[str] = set()
    messages: list[str] = []
    for error in errors if isinstance(errors, list) else [errors]:
        if not isinstance(error, dict):
            continue
        messages.append(str(error.get("message", "?")))
        extensions = error.get("extensions")
        if isinstance(extensions, dict) and isinstance(extensions.get("code"), str):
            codes.add(extensions["code"])
    return codes, "; ".join(messages)[:500]


class HubClient:
    def __init__(self, client: httpx.AsyncClient, hub_url: str, *, credential: str | None) -> None:
        self._client = client
        self._url = hub_url.rstrip("/") + "/graphql"
        self._headers = {} if credential is None else {"Authorization": f"Bearer {credential}"}

    async def feed_page(self, *, after: int, first: int = 100) -> FeedPage:
        try:
            response = await self._client.post(
                self._url,
                json={"query": FEED_QUERY, "variables": {"after": after, "first": first}},
                headers=self._headers,
            )
        except httpx.HTTPError as exc:
            raise HubError(f"hub unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise HubAuthError(f"hub answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise HubError(f"hub answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise HubError("hub answer is not JSON") from exc
        if not isinstance(body, dict):
            raise HubError("hub answer is not a JSON object")
        if body.get("errors"):
            codes, messages = _error_codes(body["errors"])
            if "UNAUTHENTICATED" in codes:
                raise HubAuthError(f"hub refused the subscriber credential: {messages}")
            raise HubError(f"hub GraphQL errors: {messages}")
        return parse_page(body.get("data"))
