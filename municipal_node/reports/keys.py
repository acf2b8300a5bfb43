"""The tenant's node key: Ed25519, signs its delivery reports (``todoke-report+jws``).

The private key is sealed in ``tenants.node_key_sealed`` (associated data
``tenant:<code>:node_key``, as ``tenants.service.open_config`` opens it and ``rotate-key``
re-seals it); its kid ``muni-<code>/node-<JST date>[-n]`` is in ``tenants.node_kid``. The public
JWK (``{"kty":"OKP","crv":"Ed25519","x"}``) is what the hub registers as the subscriber's
``node_jwk`` (``todoke hub add-subscriber --node-public-key``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.keys import generate_private_key, public_jwk
from municipal_node.audit.repository import record
from municipal_node.crypto import Sealer
from municipal_node.segments.ages import JST
from municipal_node.tenants import repository as tenants
from municipal_node.tenants.schemas import TenantConfig, TenantError


@dataclass(frozen=True)
class NodeKey:
    kid: str
    jwk: dict[str, str]
    created: bool  # False: the existing key (nothing changed)


def node_kid(code: str, now: datetime, previous: str | None) -> str:
    kid = f"muni-{code}/node-{now.astimezone(JST):%Y%m%d}"
    if previous is None or not previous.startswith(kid):
        return kid
    suffix = previous[len(kid) :].lstrip("-")
    return f"{kid}-{int(suffix) + 1 if suffix.isdigit() else 2}"


def private_key_of(config: TenantConfig) -> Ed25519PrivateKey | None:
    if config.node_private_key is None or config.node_kid is None:
        return None
    return Ed25519PrivateKey.from_private_bytes(config.node_private_key)


async def ensure_node_key(
    session: AsyncSession,
    *,
    sealer: Sealer,
    code: str,
    now: datetime,
    rotate: bool = False,
    actor: str = "cli",
) -> NodeKey:
    """The tenant's node key: generated when it has none (or ``rotate``), else the existing
    one's public JWK. A rotated key must be registered at the hub before reports verify."""
    tenant = await tenants.get(session, code)
    if tenant is None:
        raise TenantError("UNKNOWN_TENANT", f"{code} は未登録です / no tenant {code}")
    aad = f"tenant:{code}:node_key".encode()
    if tenant.node_key_sealed is not None and tenant.node_kid is not None and not rotate:
        key = Ed25519PrivateKey.from_private_bytes(sealer.open(tenant.node_key_sealed, aad=aad))
        return NodeKey(tenant.node_kid, public_jwk(key), created=False)
    key = generate_private_key()
    kid = node_kid(code, now, tenant.node_kid)
    tenant.node_key_sealed = sealer.seal(key.private_bytes_raw(), aad=aad)
    tenant.node_kid = kid
    tenant.updated_at = now
    await record(
        session,
        tenant_code=code,
        actor=actor,
        action="report_key.rotate" if rotate else "report_key.create",
        at=now,
        count=1,
        detail={"kid": kid},
    )
    await session.flush()
    return NodeKey(kid, public_jwk(key), created=True)
