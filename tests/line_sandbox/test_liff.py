"""The sandbox's LINE Login / LIFF: ID tokens like LINE's, the verify endpoint's answers, the JWKS,
the LIFF SDK it serves, and a resident's LINE app opening a LIFF URL."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.line_sandbox.conftest import CHANNEL
from tests.line_sandbox.helpers import FakeClock, http, user

LOGIN = "1234567890"
LIFF_ID = f"{LOGIN}-AbCdEfGh"
ENDPOINT = "https://node.example.lg.jp/liff/23235/campaigns/1"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def register_app(base: str, endpoint: str = ENDPOINT) -> dict[str, Any]:
    response = http().post(
        f"{base}/sandbox/channels/{CHANNEL}/liff-apps",
        json={"liff_id": LIFF_ID, "login_channel_id": LOGIN, "endpoint_url": endpoint},
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def issue(base: str, user_id: str, **extra: Any) -> str:
    response = http().post(
        f"{base}/sandbox/channels/{CHANNEL}/id-token", json={"user_id": user_id, **extra}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["id_token"]
    return token


def verify(base: str, **form: str) -> httpx.Response:
    return http().post(f"{base}/oauth2/v2.1/verify", data=form)


def test_id_token_has_lines_claims_and_verifies(sandbox_server: str) -> None:
    register_app(sandbox_server)
    token = issue(sandbox_server, user(1), liff_id=LIFF_ID, nonce="abc123")
    response = verify(sandbox_server, id_token=token, client_id=LOGIN)
    assert response.status_code == 200, response.text
    claims = response.json()
    assert claims["iss"] == "https://access.line.me"
    assert claims["sub"] == user(1)
    assert claims["aud"] == LOGIN
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["amr"] == ["linesso"]
    assert claims["name"] == "住民0002"
    assert claims["nonce"] == "abc123"
    header = json.loads(_unb64(token.split(".")[0]))
    assert header["alg"] == "ES256" and header["typ"] == "JWT"


def test_token_signature_checks_out_against_the_jwks(sandbox_server: str) -> None:
    token = issue(sandbox_server, user(0), login_channel_id=LOGIN)
    keys = http().get(f"{sandbox_server}/oauth2/v2.1/certs").json()["keys"]
    head, body, signature = token.split(".")
    jwk = next(k for k in keys if k["kid"] == json.loads(_unb64(head))["kid"])
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_unb64(jwk["x"]), "big"),
        int.from_bytes(_unb64(jwk["y"]), "big"),
        ec.SECP256R1(),
    ).public_key()
    raw = _unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    try:
        public.verify(der, f"{head}.{body}x".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        pass
    else:  # pragma: no cover - the check above must be able to fail
        raise AssertionError("a changed payload verified")


def test_verify_refuses_like_line(make_sandbox: Callable[..., str]) -> None:
    clock = FakeClock()
    base = make_sandbox(clock=clock)
    token = issue(base, user(2), login_channel_id=LOGIN)

    def error(response: httpx.Response) -> str:
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["error"] == "invalid_request"
        description: str = body["error_description"]
        return description

    assert error(verify(base, id_token=token, client_id="9999999999")) == (
        "Invalid IdToken Audience."
    )
    head, body, signature = token.split(".")
    claims = json.loads(_unb64(body))
    claims["sub"] = user(3)
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert error(verify(base, id_token=f"{head}.{forged_body}.{signature}", client_id=LOGIN)) == (
        "Invalid IdToken."
    )
    assert error(verify(base, id_token="not-a-jwt", client_id=LOGIN)) == "Invalid IdToken."
    assert error(verify(base, id_token=token, client_id=LOGIN, nonce="other")) == (
        "Invalid IdToken Nonce."
    )
    assert error(verify(base, id_token=token, client_id=LOGIN, user_id=user(4))) == (
        "Invalid IdToken Subject Identifier."
    )
    assert "id_token" in error(verify(base, client_id=LOGIN))
    assert "client_id" in error(verify(base, id_token=token))
    # still fine just before it expires, expired at exp
    clock.advance(3599)
    assert verify(base, id_token=token, client_id=LOGIN).status_code == 200
    clock.advance(1)
    assert error(verify(base, id_token=token, client_id=LOGIN)) == "IdToken expired."
    expired = issue(base, user(2), login_channel_id=LOGIN, expires_in=-1)
    assert error(verify(base, id_token=expired, client_id=LOGIN)) == "IdToken expired."


def test_tokens_of_another_sandbox_are_invalid(make_sandbox: Callable[..., str]) -> None:
    first, second = make_sandbox(), make_sandbox()
    token = issue(first, user(0), login_channel_id=LOGIN)
    response = verify(second, id_token=token, client_id=LOGIN)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Invalid IdToken."


def test_id_token_for_unknown_user_or_app(sandbox_server: str) -> None:
    response = http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/id-token",
        json={"user_id": "U" + "0" * 32},
    )
    assert response.status_code == 404
    response = http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/id-token",
        json={"user_id": user(0), "liff_id": "1111111111-AAAAAAAA"},
    )
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_liff_app"


def test_liff_app_registration_is_checked(sandbox_server: str) -> None:
    url = f"{sandbox_server}/sandbox/channels/{CHANNEL}/liff-apps"
    response = http().post(url, json={"endpoint_url": "javascript:alert(1)"})
    assert response.status_code == 400
    response = http().post(
        url,
        json={"endpoint_url": ENDPOINT, "liff_id": LIFF_ID, "login_channel_id": "2222222222"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "liff_id_mismatch"
    made = http().post(url, json={"endpoint_url": ENDPOINT}).json()
    assert made["liff_id"].startswith(made["login_channel_id"] + "-")


def test_sdk_is_served_as_javascript(sandbox_server: str) -> None:
    response = http().get(f"{sandbox_server}/liff/edge/2/sdk.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    for name in ("init", "getIDToken", "isInClient", "closeWindow", "isLoggedIn"):
        assert f"{name}:" in response.text


def _token_of(location: str) -> str:
    fragment = parse_qs(urlsplit(location).fragment)
    assert fragment["sandbox_in_client"] == ["1"]
    return fragment["sandbox_id_token"][0]


def test_opening_a_liff_url_logs_the_resident_in(sandbox_server: str) -> None:
    register_app(sandbox_server, endpoint="https://node.example.lg.jp/liff/23235")
    opener = f"{sandbox_server}/sandbox/liff/open/{CHANNEL}/{user(1)}?url="
    phone = httpx.Client(timeout=30)  # its own cookie jar: the LINE app's cookie stays here
    liff_url = f"https://liff.line.me/{LIFF_ID}/campaigns/1?from=open"
    response = phone.get(opener + quote(liff_url, safe=""))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://node.example.lg.jp/liff/23235/campaigns/1?from=open#")
    claims = verify(sandbox_server, id_token=_token_of(location), client_id=LOGIN).json()
    assert claims["sub"] == user(1)

    # like LINE: a URL on the LIFF app's own host is not a LIFF launch (no token)
    own_host = "https://node.example.lg.jp/c/23235/1/open"
    response = phone.get(opener + quote(own_host, safe=""))
    assert (response.status_code, response.headers["location"]) == (302, own_host)
    other = "https://example.com/page"
    response = phone.get(opener + quote(other, safe=""))
    assert (response.status_code, response.headers["location"]) == (302, other)
    response = phone.get(
        f"{sandbox_server}/sandbox/liff/open/{CHANNEL}/{'U' + 'f' * 32}?url={quote(other)}"
    )
    assert response.status_code == 404
    unknown = f"https://liff.line.me/{LOGIN}-Unknown0/x"
    assert phone.get(opener + quote(unknown, safe="")).status_code == 404
    phone.close()


def test_the_sandbox_liff_url_knows_the_resident_from_their_line_app(sandbox_server: str) -> None:
    """A button's click counter redirects to the LIFF URL: the resident's LINE app (cookie set
    when it opened the button) logs them in there; a browser outside LINE opens it logged out."""
    register_app(sandbox_server, endpoint="https://node.example.lg.jp/liff/23235")
    sandbox_liff = f"{sandbox_server}/liff-url/{LIFF_ID}/campaigns/7"
    with httpx.Client(timeout=30) as phone:
        opened = phone.get(
            f"{sandbox_server}/sandbox/liff/open/{CHANNEL}/{user(2)}"
            f"?url={quote('https://node.example.lg.jp/c/23235/7/open', safe='')}"
        )
        assert opened.status_code == 302
        response = phone.get(sandbox_liff)
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.startswith("https://node.example.lg.jp/liff/23235/campaigns/7#")
        claims = verify(sandbox_server, id_token=_token_of(location), client_id=LOGIN).json()
        assert claims["sub"] == user(2)
    with httpx.Client(timeout=30) as browser:  # no LINE app: no cookie
        outside = browser.get(sandbox_liff)
    assert (outside.status_code, outside.headers["location"]) == (
        302,
        "https://node.example.lg.jp/liff/23235/campaigns/7",
    )
    with httpx.Client(timeout=30) as browser:
        assert browser.get(f"{sandbox_server}/liff-url/{LOGIN}-Unknown0").status_code == 404
