"""TOO_LARGE at the edge: an envelope of exactly 65,536 bytes is verified, 65,537 is refused
before any decoding; the HTTP body limit has the same exact edge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from contracts.canonical import canonicalize
from contracts.jws import MAX_ENVELOPE_BYTES, SignedEnvelope
from hub.app import create_app
from hub.settings import HubSettings
from hub.state import HubState
from tests.hub.helpers import HubApi, make_notice, signed

FILL = 64  # interests are Text64: each further item adds ,"<64 chars>" = 67 bytes


def _notice(items: int, pad: int) -> dict[str, Any]:
    return make_notice(
        audience={"household": ["single_parent"], "interests": ["y" * FILL] * items},
        content={"ja": {"headline": "大きなお知らせ", "body": "b" * pad}},
    )


def notice_with_payload_bytes(length: int) -> dict[str, Any]:
    """A valid notice whose canonical payload is exactly ``length`` bytes."""
    extra = length - len(canonicalize(_notice(1, 1)))
    assert extra >= 0
    more_items, more_pad = divmod(extra, FILL + 3)
    notice = _notice(1 + more_items, 1 + more_pad)  # body stays far below 1,000 chars
    assert len(canonicalize(notice)) == length
    return notice


def envelope_of_size(size: int) -> SignedEnvelope:
    """A validly signed notice envelope whose wire size is exactly ``size`` bytes."""
    probe = signed(make_notice())
    fixed = probe.size() - len(probe.payload)  # header + signature + JSON punctuation
    b64_length = size - fixed
    remainder = b64_length % 4
    assert remainder != 1, "no payload encodes to this length; adjust the kid"
    payload_length = b64_length // 4 * 3 + {0: 0, 2: 1, 3: 2}[remainder]
    envelope = signed(notice_with_payload_bytes(payload_length))
    assert envelope.size() == size
    return envelope


@pytest.mark.parametrize("size", [MAX_ENVELOPE_BYTES - 1, MAX_ENVELOPE_BYTES])
async def test_envelope_at_the_limit_is_accepted(
    api: HubApi, registered: HubState, size: int
) -> None:
    envelope = envelope_of_size(size)
    result = await api.publish(envelope)
    assert result["__typename"] == "PublishAccepted", result
    assert result["seq"] == 1


async def test_envelope_one_byte_over_is_too_large_and_not_stored(
    api: HubApi, registered: HubState
) -> None:
    envelope = envelope_of_size(MAX_ENVELOPE_BYTES + 1)
    result = await api.publish(envelope)
    assert result == {
        "__typename": "PublishRejected",
        "code": "TOO_LARGE",
        "message": f"envelope is {MAX_ENVELOPE_BYTES + 1} bytes; the limit is {MAX_ENVELOPE_BYTES}",
    }
    async with registered.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM notices"))).scalar_one() == 0


async def test_oversized_junk_is_too_large_before_any_decoding(
    api: HubApi, registered: HubState
) -> None:
    # Not base64url, not JSON, not signed: the size is the only thing looked at.
    junk = {"protected": "!" * 30_000, "payload": "\u3042" * 12_000, "signature": "?"}
    assert SignedEnvelope(**junk).size() > MAX_ENVELOPE_BYTES
    result = await api.publish(SignedEnvelope(**junk))
    assert result["code"] == "TOO_LARGE"


@pytest.mark.parametrize(("extra", "status"), [(0, 200), (1, 413)])
async def test_http_body_limit_edge(settings: HubSettings, extra: int, status: int) -> None:
    limit = 4096
    app = create_app(settings.model_copy(update={"max_body_bytes": limit}))
    prefix = b'{"query": "{ keySet { protected } }", "operationName": null, "x": "'
    body = prefix + b"a" * (limit + extra - len(prefix) - 2) + b'"}'
    assert len(body) == limit + extra
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            response = await http.post(
                "/graphql", content=body, headers={"content-type": "application/json"}
            )
    assert response.status_code == status, response.text
    if status == 413:
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "TOO_LARGE"
    else:
        assert response.json()["data"]["keySet"]["protected"]
