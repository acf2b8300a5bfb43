"""Tenant rules: validation on creation, sealing and opening of LINE credentials."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.ids import HUB_KID_RE
from contracts.keys import public_key_from_jwk
from municipal_node.crypto import Sealer
from municipal_node.tenants import repository
from municipal_node.tenants.models import Tenant
from municipal_node.tenants.schemas import MUNICIPALITY_CODE_RE, RootKey, TenantConfig, TenantError


def _aad(code: str, what: str) -> str:
    return f"tenant:{code}:{what}"


def parse_root_keys(values: Iterable[Mapping[str, Any]]) -> tuple[RootKey, ...]:
    """Validate pinned hub root keys given as ``{"kid", "jwk"}`` objects."""
    keys: list[RootKey] = []
    for value in values:
        kid = value.get("kid")
        jwk = value.get("jwk")
        if not isinstance(kid, str) or not HUB_KID_RE.fullmatch(kid):
            raise TenantError(
                "BAD_ROOT_KEY",
                f"ハブのルート鍵 kid が不正です / bad hub root key kid: {kid!r} "
                "(expected hub-<id>/<label>)",
            )
        if not isinstance(jwk, Mapping):
            raise TenantError("BAD_ROOT_KEY", f"{kid}: jwk がありません / jwk missing")
        try:
            public_key = public_key_from_jwk(jwk)
        except Exception as exc:  # contracts raises ContractError or ValueError on junk
            raise TenantError(
                "BAD_ROOT_KEY", f"{kid}: Ed25519 公開鍵ではありません / not an Ed25519 JWK ({exc})"
            ) from exc
        keys.append(RootKey(kid=kid, jwk=dict(jwk), public_key=public_key))
    if not keys:
        raise TenantError("BAD_ROOT_KEY", "ハブのルート鍵が必要です / at least one hub root key")
    if len({key.kid for key in keys}) != len(keys):
        raise TenantError("BAD_ROOT_KEY", "kid が重複しています / duplicate root key kid")
    return tuple(keys)


def parse_root_key_text(text: str) -> list[dict[str, Any]]:
    """JSON of one ``{"kid","jwk"}`` object or a list of them."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TenantError("BAD_ROOT_KEY", f"JSON ではありません / not JSON: {exc}") from exc
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        raise TenantError("BAD_ROOT_KEY", 'expected {"kid": ..., "jwk": {...}} objects')
    return [dict(item) for item in items]


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise TenantError(
            "BAD_URL", f"{what} は http(s) の URL が必要です / must be an http(s) URL"
        )
    return url.rstrip("/")


async def add_tenant(
    session: AsyncSession,
    *,
    sealer: Sealer,
    code: str,
    name: str,
    hub_url: str,
    root_keys: Iterable[Mapping[str, Any]],
    line_channel_secret: str,
    line_access_token: str,
    line_api_base_url: str,
    now: datetime,
    hub_credential: str | None = None,
) -> Tenant:
    if not MUNICIPALITY_CODE_RE.fullmatch(code):
        raise TenantError(
            "BAD_CODE",
            f"市区町村コードは5桁の JIS コードです / municipality code must be a 5-digit JIS code: {code!r}",
        )
    name = name.strip()
    if not name or len(name) > 100:
        raise TenantError("BAD_NAME", "名称は1〜100文字です / name must be 1–100 characters")
    if not line_channel_secret or not line_access_token:
        raise TenantError(
            "BAD_LINE", "LINE のチャネル情報が必要です / LINE channel secret and token required"
        )
    keys = parse_root_keys(root_keys)
    if hub_credential is not None:
        hub_credential = _check_credential(hub_credential)
    if await repository.get(session, code) is not None:
        raise TenantError("EXISTS", f"{code} は登録済みです / tenant {code} already exists")
    tenant = Tenant(
        code=code,
        name=name,
        hub_url=_check_url(hub_url, "hub URL"),
        hub_root_keys=[{"kid": key.kid, "jwk": key.jwk} for key in keys],
        line_channel_secret_sealed=sealer.seal_text(
            line_channel_secret, aad=_aad(code, "line_channel_secret")
        ),
        line_access_token_sealed=sealer.seal_text(
            line_access_token, aad=_aad(code, "line_access_token")
        ),
        line_api_base_url=_check_url(line_api_base_url, "LINE API base URL"),
        hub_credential_sealed=(
            None
            if hub_credential is None
            else sealer.seal_text(hub_credential, aad=_aad(code, "hub_credential"))
        ),
        feed_cursor=0,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, tenant)
    return tenant


def _check_credential(credential: str) -> str:
    credential = credential.strip()
    # the hub issues URL-safe base64 tokens; anything else could not be sent as a header anyway
    if not 16 <= len(credential) <= 512 or not all(
        ch.isascii() and (ch.isalnum() or ch in "-_.~+/=") for ch in credential
    ):
        raise TenantError(
            "BAD_CREDENTIAL",
            "ハブの認証情報が不正です（`todoke hub add-subscriber` が表示した値） / "
            "bad hub credential (use the value `todoke hub add-subscriber` printed)",
        )
    return credential


async def set_hub_credential(
    session: AsyncSession, *, sealer: Sealer, code: str, credential: str, now: datetime
) -> None:
    """Replace the tenant's hub credential (rotation); running followers pick it up next round."""
    tenant = await repository.get(session, code)
    if tenant is None:
        raise TenantError("UNKNOWN_TENANT", f"{code} は未登録です / no tenant {code}")
    tenant.hub_credential_sealed = sealer.seal_text(
        _check_credential(credential), aad=_aad(code, "hub_credential")
    )
    tenant.updated_at = now
    await session.flush()


def open_config(tenant: Tenant, *, sealer: Sealer) -> TenantConfig:
    return TenantConfig(
        code=tenant.code,
        name=tenant.name,
        hub_url=tenant.hub_url,
        root_keys=parse_root_keys(tenant.hub_root_keys),
        line_channel_secret=sealer.open_text(
            tenant.line_channel_secret_sealed, aad=_aad(tenant.code, "line_channel_secret")
        ),
        line_access_token=sealer.open_text(
            tenant.line_access_token_sealed, aad=_aad(tenant.code, "line_access_token")
        ),
        line_api_base_url=tenant.line_api_base_url,
        hub_credential=(
            None
            if tenant.hub_credential_sealed is None
            else sealer.open_text(
                tenant.hub_credential_sealed, aad=_aad(tenant.code, "hub_credential")
            )
        ),
        node_private_key=(
            None
            if tenant.node_key_sealed is None
            else sealer.open(tenant.node_key_sealed, aad=_aad(tenant.code, "node_key").encode())
        ),
        node_kid=tenant.node_kid,
        liff_id=tenant.liff_id,
        login_channel_id=tenant.login_channel_id,
        public_base_url=tenant.public_base_url,
    )


async def load_config(session: AsyncSession, code: str, *, sealer: Sealer) -> TenantConfig | None:
    tenant = await repository.get(session, code)
    return None if tenant is None else open_config(tenant, sealer=sealer)
