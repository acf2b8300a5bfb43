"""A publisher's side: sign a notice locally and submit it to a hub over HTTP.

The private key never leaves the caller: only the signed envelope is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.errors import RejectionCode
from contracts.jws import TYP_NOTICE, SignedEnvelope, sign
from hub.publishers.schemas import PublishAccepted, PublishRejected, PublishResult

_RESULT = """{
    __typename
    ... on PublishAccepted {
      seq publisher noticeId digest duplicate
      receipt { protected payload signature }
    }
    ... on PublishRejected { code message }
  }"""
PUBLISH_MUTATION = f"""
mutation Publish($envelope: SignedEnvelopeInput!) {{
  publishNotice(envelope: $envelope) {_RESULT}
}}
"""
# A bulk request stays under the hub's default query limits (30 aliases) and request body
# limit (256 KiB); a larger set of notices goes in several requests, in order.
BULK_NOTICES = 25
BULK_BYTES = 192 * 1024


def bulk_mutation(count: int) -> str:
    """``count`` publishNotice fields ``n0``… on variables ``$e0``…, executed in order."""
    definitions = ", ".join(f"$e{i}: SignedEnvelopeInput!" for i in range(count))
    fields = "\n".join(f"  n{i}: publishNotice(envelope: $e{i}) {_RESULT}" for i in range(count))
    return f"mutation PublishMany({definitions}) {{\n{fields}\n}}\n"


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


class _TooLarge(HubClientError):
    """The hub refused the request body as too large (before reading any envelope)."""


def _results(response: httpx.Response, keys: Sequence[str]) -> list[PublishResult]:
    """The publishNotice fields ``keys`` of an answer as data."""
    try:
        data = response.json()
    except ValueError as exc:
        raise HubClientError(f"hub answered HTTP {response.status_code} without JSON") from exc
    errors = data.get("errors") if isinstance(data, dict) else None
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = (first.get("extensions") or {}).get("code")
        if code == RejectionCode.TOO_LARGE.value:
            raise _TooLarge(str(first.get("message")))
        raise HubClientError(f"hub answered an error: {first.get('message', errors[0])}")
    try:
        return [_result_of(data["data"][key]) for key in keys]
    except (KeyError, TypeError, ValueError) as exc:
        raise HubClientError(f"unexpected answer from the hub: {exc!r}") from exc


def _parse_response(response: httpx.Response) -> PublishResult:
    try:
        return _results(response, ["publishNotice"])[0]
    except _TooLarge as exc:  # one envelope: the hub's answer to it
        return PublishRejected(RejectionCode.TOO_LARGE, str(exc))


def _result_of(result: Any) -> PublishResult:
    """One publishNotice field of an answer as data (``KeyError``… if it is not one)."""
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


def _chunks(envelopes: Sequence[SignedEnvelope]) -> list[list[SignedEnvelope]]:
    chunks: list[list[SignedEnvelope]] = []
    size = 0
    for envelope in envelopes:
        if not chunks or len(chunks[-1]) == BULK_NOTICES or size + envelope.size() > BULK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(envelope)
        size += envelope.size()
    return chunks


async def submit_envelopes(
    envelopes: Sequence[SignedEnvelope], *, hub_url: str, timeout: float = 30.0
) -> list[PublishResult]:
    """Submit several envelopes in as few requests as the hub's limits allow (a bulk publish:
    the hub stores them in this order, so an Update may follow its Alert); one result each.
    A failure to reach the hub raises ``HubClientError`` after the requests answered before."""
    results: list[PublishResult] = []
    async with httpx.AsyncClient(timeout=timeout) as client:
        for chunk in _chunks(envelopes):
            body = {
                "query": bulk_mutation(len(chunk)),
                "variables": {f"e{i}": envelope.model_dump() for i, envelope in enumerate(chunk)},
            }
            try:
                response = await client.post(graphql_url(hub_url), json=body)
            except httpx.HTTPError as exc:
                raise HubClientError(f"cannot reach the hub at {hub_url}: {exc}") from exc
            results.extend(_results(response, [f"n{i}" for i in range(len(chunk))]))
    return results


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
