"""A publisher's side: sign a notice locally and submit it to a hub over HTTP.

The private key never leaves the caller: only the signed envelope is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.errors import RejectionCode
from contracts.jws import TYP_NOTICE, SignedEnvelope, sign
from hub.publishers.schemas import PublishAccepted, PublishRejected, PublishResult

PUBLISH_MUTATION = """
mutation Publish($envelope: SignedEnvelopeInput!) {
  publishNotice(envelope: $envelope) {
    __typename
    ... on PublishAccepted {
      seq publisher noticeId digest duplicate
      receipt { protected payload signature }
    }
    ... on PublishRejected { code message }
  }
}
"""


class HubClientError(Exception):
    """The hub could not be reached or answered something that is not a publish result."""


def sign_notice(
    notice: Mapping[str, Any], *, kid: str, private_key: Ed25519PrivateKey
) -> SignedEnvelope:
    """The notice as a signed envelope (``ValueError`` if it cannot be canonicalized)."""
    return sign(notice, typ=TYP_NOTICE, kid=kid, private_key=private_key)


def graphql_url(hub_url: str) -> str:
    base = hub_url.rstrip("/")
    return base if base.endswith("/graphql") else f"{base}/graphql"


async def submit_envelope(
    envelope: SignedEnvelope,
    *,
    hub_url: str,
    http: httpx.AsyncClient | None = None,
    timeout: float = 30.0,
) -> PublishResult:
    """Call ``publishNotice`` on the hub and return its answer as data."""
    body = {
        "query": PUBLISH_MUTATION,
        "variables": {"envelope": envelope.model_dump()},
    }
    try:
        if http is None:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.post(graphql_url(hub_url), json=body)
        else:
            response = await http.post(graphql_url(hub_url), json=body)
    except httpx.HTTPError as exc:
        raise HubClientError(f"cannot reach the hub at {hub_url}: {exc}") from exc
    return _parse_response(response)


def _parse_response(response: httpx.Response) -> PublishResult:
    try:
        data = response.json()
    except ValueError as exc:
        raise HubClientError(f"hub answered HTTP {response.status_code} without JSON") from exc
    errors = data.get("errors") if isinstance(data, dict) else None
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = (first.get("extensions") or {}).get("code")
        if code == RejectionCode.TOO_LARGE.value:
            return PublishRejected(RejectionCode.TOO_LARGE, str(first.get("message")))
        raise HubClientError(f"hub answered an error: {first.get('message', errors[0])}")
    try:
        result = data["data"]["publishNotice"]
        if result["__typename"] == "PublishAccepted":
            receipt = result["receipt"]
            return PublishAccepted(
                seq=int(result["seq"]),
                publisher=str(result["publisher"]),
                notice_id=str(result["noticeId"]),
                digest=str(result["digest"]),
                duplicate=bool(result["duplicate"]),
                receipt=SignedEnvelope(
                    protected=receipt["protected"],
                    payload=receipt["payload"],
                    signature=receipt["signature"],
                ),
            )
        return PublishRejected(RejectionCode(result["code"]), str(result["message"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise HubClientError(f"unexpected answer from the hub: {exc!r}") from exc


async def publish(
    notice: Mapping[str, Any],
    *,
    kid: str,
    private_key: Ed25519PrivateKey,
    hub_url: str,
    http: httpx.AsyncClient | None = None,
) -> tuple[SignedEnvelope, PublishResult]:
    """Sign locally, then submit. Returns the envelope sent and the hub's answer."""
    envelope = sign_notice(notice, kid=kid, private_key=private_key)
    return envelope, await submit_envelope(envelope, hub_url=hub_url, http=http)
