"""Verifying a LIFF ID token with LINE Login (``POST {base}/oauth2/v2.1/verify``).

LINE recommends the verify endpoint over checking the JWT locally: LINE checks the signature,
``iss``, ``exp``, and ``aud`` against ``client_id`` (the LINE Login channel id). The node then
checks ``aud`` again and that ``sub`` is a LINE user id. The base URL is the tenant's
``line_api_base_url`` (LINE serves the endpoint on ``https://api.line.me``; the sandbox serves
both APIs on one origin).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

USER_ID_RE = re.compile(r"U[0-9a-f]{32}")


class IdTokenError(Exception):
    """The token is not acceptable (``status`` 401), or LINE could not be asked (502/503)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VerifiedToken:
    user_id: str
    audience: str


def _refused(description: str) -> IdTokenError:
    if "expired" in description.lower():
        return IdTokenError(
            401,
            "ID_TOKEN_EXPIRED",
            "LINE のログインの有効期限が切れました。LINE アプリでページを開き直してください / "
            "the LINE ID token has expired; reopen the page in LINE",
        )
    return IdTokenError(
        401,
        "INVALID_ID_TOKEN",
        "LINE のログインを確認できませんでした。LINE アプリでページを開き直してください / "
        "the LINE ID token is not valid; reopen the page in LINE",
    )


async def verify_id_token(
    base_url: str, *, id_token: str, login_channel_id: str, timeout: float
) -> VerifiedToken:
    """The token's LINE user id, after LINE Login verified it for ``login_channel_id``."""
    url = f"{base_url.rstrip('/')}/oauth2/v2.1/verify"
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.post(
                url, data={"id_token": id_token, "client_id": login_channel_id}
            )
    except httpx.HTTPError as exc:
        raise IdTokenError(
            503,
            "LINE_UNAVAILABLE",
            "LINE に接続できませんでした。しばらくしてからもう一度お試しください / "
            f"could not reach LINE Login ({type(exc).__name__})",
        ) from exc
    if response.status_code == 400:
        description = ""
        try:
            body: Any = response.json()
            if isinstance(body, dict):
                description = str(body.get("error_description", ""))
        except ValueError:
            pass
        raise _refused(description)
    if response.status_code != 200:
        raise IdTokenError(
            502,
            "LINE_ERROR",
            "LINE からの応答が正しくありません。しばらくしてからもう一度お試しください / "
            f"unexpected answer from LINE Login ({response.status_code})",
        )
    try:
        claims: Any = response.json()
    except ValueError as exc:
        raise IdTokenError(
            502, "LINE_ERROR", "LINE からの応答が読めません / unreadable answer from LINE Login"
        ) from exc
    if not isinstance(claims, dict):
        raise _refused("")
    audience = claims.get("aud")
    subject = claims.get("sub")
    if audience != login_channel_id or not isinstance(subject, str):
        raise _refused("")
    if not USER_ID_RE.fullmatch(subject):
        raise _refused("")
    return VerifiedToken(user_id=subject, audience=audience)
