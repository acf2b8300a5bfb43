"""Reads the hub's GraphQL feed (``keySet`` + ``notices(after, first)``) over httpx."""

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
      envelope { protected payload signature }
      receipt { protected payload signature }
    }
    lastSeq
    hasMore
  }
}
"""


class HubError(Exception):
    """The hub could not be read (network, HTTP status, GraphQL errors, malformed data)."""


def _envelope(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(name), str) for name in ("protected", "payload", "signature")
    ):
        raise HubError("malformed signed envelope in the hub's answer")
    return {name: str(value[name]) for name in ("protected", "payload", "signature")}


def parse_page(data: Any) -> FeedPage:
    if not isinstance(data, dict):
        raise HubError("hub answer has no data")
    feed = data.get("notices")
    if not isinstance(feed, dict) or not isinstance(feed.get("items"), list):
        raise HubError("hub answer has no notices")
    items: list[FeedItem] = []
    for raw in feed["items"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("seq"), int):
            raise HubError("malformed feed item")
        items.append(
            FeedItem(raw["seq"], _envelope(raw.get("envelope")), _envelope(raw.get("receipt")))
        )
    last_seq = feed.get("lastSeq")
    has_more = feed.get("hasMore")
    if not isinstance(last_seq, int) or not isinstance(has_more, bool):
        raise HubError("malformed feed page")
    return FeedPage(_envelope(data.get("keySet")), items, last_seq, has_more)


class HubClient:
    def __init__(self, client: httpx.AsyncClient, hub_url: str) -> None:
        self._client = client
        self._url = hub_url.rstrip("/") + "/graphql"

    async def feed_page(self, *, after: int, first: int = 100) -> FeedPage:
        try:
            response = await self._client.post(
                self._url,
                json={"query": FEED_QUERY, "variables": {"after": after, "first": first}},
            )
        except httpx.HTTPError as exc:
            raise HubError(f"hub unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise HubError(f"hub answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise HubError("hub answer is not JSON") from exc
        if not isinstance(body, dict):
            raise HubError("hub answer is not a JSON object")
        if body.get("errors"):
            messages = "; ".join(
                str(error.get("message", "?"))
                for error in body["errors"]
                if isinstance(error, dict)
            )
            raise HubError(f"hub GraphQL errors: {messages[:500]}")
        return parse_page(body.get("data"))
