"""Pinning and unpinning a tenant's hub root keys, for hub root key rotation.

Runbook (docs/decisions/0003-root-key-rotation.md): pin the hub's new root key on every node,
switch the hub to it, unpin the old key once nothing signed by it is needed any more. A tenant
always keeps at least one pinned key; receipts and key sets signed by any pinned key verify.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.tenants import repository
from municipal_node.tenants.models import Tenant
from municipal_node.tenants.schemas import RootKey, TenantError
from municipal_node.tenants.service import parse_root_keys


async def _tenant(session: AsyncSession, code: str) -> Tenant:
    tenant = await repository.get(session, code)
    if tenant is None:
        raise TenantError("UNKNOWN_TENANT", f"{code} は未登録です / no tenant {code}")
    return tenant


async def pin_root_keys(
    session: AsyncSession, *, code: str, keys: Iterable[Mapping[str, Any]], now: datetime
) -> tuple[RootKey, ...]:
    """Add hub root keys to the tenant's pins; returns the pins after the change.

    Pinning a kid already pinned with the same key is a no-op; with another key it is refused
    (a kid names one key for ever).
    """
    tenant = await _tenant(session, code)
    current = {key.kid: key for key in parse_root_keys(tenant.hub_root_keys)}
    added = parse_root_keys(keys)
    merged = list(tenant.hub_root_keys)
    for key in added:
        pinned = current.get(key.kid)
        if pinned is not None:
            if pinned.jwk != key.jwk:
                raise TenantError(
                    "ROOT_KEY_CONFLICT",
                    f"{key.kid} は別の鍵として固定済みです / {key.kid} is already pinned with "
                    "another key (a kid names one key for ever)",
                )
            continue
        merged.append({"kid": key.kid, "jwk": key.jwk})
    tenant.hub_root_keys = merged  # a new list: the JSON column sees the change
    tenant.updated_at = now
    await session.flush()
    return parse_root_keys(merged)


async def unpin_root_key(
    session: AsyncSession, *, code: str, kid: str, now: datetime
) -> tuple[RootKey, ...]:
    """Remove one pinned hub root key; refuses to remove the last one."""
    tenant = await _tenant(session, code)
    if not any(item.get("kid") == kid for item in tenant.hub_root_keys):
        raise TenantError("UNKNOWN_ROOT_KEY", f"{kid} は固定されていません / {kid} is not pinned")
    remaining = [item for item in tenant.hub_root_keys if item.get("kid") != kid]
    if not remaining:
        raise TenantError(
            "LAST_ROOT_KEY",
            f"{kid} は最後のルート鍵です。先に新しい鍵を固定してください / {kid} is the last pinned "
            "hub root key: pin the new one first (`todoke node pin-root-key`)",
        )
    tenant.hub_root_keys = remaining
    tenant.updated_at = now
    await session.flush()
    return parse_root_keys(remaining)
