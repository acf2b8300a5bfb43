"""``submitReport`` at the hub: one signed report (flattened JWS, CONTRACT §7) per call, as the
tenant's subscriber.

The call is authenticated like the feed (``Authorization: Bearer <subscriber credential>``,
``relay.hub_client``). The hub answers ``ReportAccepted`` (``outcome`` STORED, REPLACED,
DUPLICATE or OUTDATED — all mean the hub holds a report at least as recent) or
``ReportRejected`` (``code``, ``message``). A refused credential is ``HubAuthError``; network,
HTTP and malformed answers are ``HubError`` (retried at the next round).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from municipal_node.relay.hub_client import HubAuthError, HubError

SUBMIT_MUTATION = """
mutation SubmitReport($envelope: SignedEnvelopeInput!) {
  submitReport(envelope: $envelope) {
    __typename
    ... on ReportAccepted { outcome asOf digest }
    ... on ReportRejected { code message }
  }
}
"""


@dataclass(frozen=True)
class SubmitAnswer:
    accepted: bool
    outcome: str | None  # STORED, REPLACED, DUPLICATE, OUTDATED when accepted
    code: str | None  # the rejection code otherwise
    message: str | None


def _errors(errors: Any) -> tuple[set[str], str]:
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


def _envelope(compact: str) -> dict[str, str]:
    """The flattened JWS of CONTRACT §7 from our compact ``protected.payload.signature``."""
    protected, payload, signature = compact.split(".")
    return {"protected": protected, "payload": payload, "signature": signature}


async def submit_report(
    http: httpx.AsyncClient, *, hub_url: str, credential: str, compact: str
) -> SubmitAnswer:
    try:
        response = await http.post(
            hub_url.rstrip("/") + "/graphql",
            json={"query": SUBMIT_MUTATION, "variables": {"envelope": _envelope(compact)}},
            headers={"Authorization": f"Bearer {credential}"},
        )
    except httpx.HTTPError as exc:
        raise HubError(f"hub unreachable: {type(exc).__name__}: {exc}") from exc
    if response.status_code in (401, 403):
        raise HubAuthError(f"hub answered HTTP {response.status_code}")
    if response.status_code == 429:
        raise HubError("hub rate limit (HTTP 429)")
    if response.status_code != 200:
        raise HubError(f"hub answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise HubError("hub answer is not JSON") from exc
    if not isinstance(body, dict):
        raise HubError("hub answer is not a JSON object")
    if body.get("errors"):
        codes, messages = _errors(body["errors"])
        if "UNAUTHENTICATED" in codes:
            raise HubAuthError(f"hub refused the subscriber credential: {messages}")
        raise HubError(f"hub GraphQL errors: {messages}")
    data = body.get("data")
    result = data.get("submitReport") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise HubError("hub answer has no submitReport")
    if result.get("__typename") == "ReportAccepted":
        return SubmitAnswer(True, str(result.get("outcome")), None, None)
    if result.get("__typename") == "ReportRejected":
        code = str(result.get("code"))
        if code == "UNAUTHENTICATED":
            raise HubAuthError(f"hub refused the subscriber credential: {result.get('message')}")
        if code == "RATE_LIMITED":
            raise HubError(f"hub rate limit: {result.get('message')}")
        return SubmitAnswer(False, None, code, str(result.get("message"))[:500])
    raise HubError("malformed submitReport answer")
