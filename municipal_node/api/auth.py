"""Who is calling the admin API, and may they act on this tenant?

Every ``/api/tenants/{code}/…`` route depends on ``tenant_access(*roles)``: it authenticates the
bearer token, checks the caller holds one of ``roles`` on ``{code}`` (``admin`` implies every
role), and answers 401 (no or bad credentials), 403 (no role on this tenant) or 404 (unknown
tenant, only after the caller proved a role there — an outsider learns nothing).

Callers:
- the node operator (``TODOKE_NODE_ADMIN_TOKEN``): ``admin`` on every tenant, actor ``operator``;
- staff (``municipal_node.staff``): a session token from ``POST /api/login``, roles per tenant,
  actor ``staff:<username>``.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.tenants import repository as tenants

_bearer = HTTPBearer(auto_error=False)


class Role(enum.StrEnum):
    ADMIN = "admin"  # everything, staff and tenant settings included
    EDITOR = "editor"  # residents, codes, segments, templates, relay rules
    APPROVER = "approver"  # release sends that wait for approval
    VIEWER = "viewer"  # read counts and statuses


ALL_ROLES = tuple(Role)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``roles is None`` means the operator (admin everywhere)."""

    actor: str
    staff_id: int | None
    roles: Mapping[str, frozenset[Role]] | None

    def roles_on(self, tenant_code: str) -> frozenset[Role]:
        if self.roles is None:
            return frozenset({Role.ADMIN})
        return self.roles.get(tenant_code, frozenset())

    def may(self, tenant_code: str, allowed: tuple[Role, ...]) -> bool:
        held = self.roles_on(tenant_code)
        return Role.ADMIN in held or bool(held & set(allowed))


@dataclass(frozen=True)
class TenantAccess:
    principal: Principal
    tenant_code: str

    @property
    def actor(self) -> str:
        return self.principal.actor


#: Resolves a bearer token that is not the operator token (filled in by ``municipal_node.staff``):
#: ``(session, token, now)`` → the staff principal, or None (unknown, expired, revoked, disabled).
StaffResolver = Callable[[AsyncSession, str, datetime], Awaitable[Principal | None]]
_staff_resolvers: list[StaffResolver] = []


def register_staff_resolver(resolver: StaffResolver) -> None:
    """Add a resolver; registering the same one again is a no-op (apps built repeatedly)."""
    if resolver not in _staff_resolvers:
        _staff_resolvers.append(resolver)


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The raw bearer token of the request, if any (for ``POST /api/logout``)."""
    if credentials is None or not credentials.credentials:
        return None
    return credentials.credentials


def _unauthenticated() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail={
            "code": "UNAUTHENTICATED",
            "message": "ログインが必要です / sign-in required",
        },
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_principal(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthenticated()
    given = credentials.credentials
    operator = state.settings.admin_token
    if operator is not None and hmac.compare_digest(
        given.encode("utf-8"), operator.get_secret_value().encode("utf-8")
    ):
        return Principal(actor="operator", staff_id=None, roles=None)
    now = state.clock.now()
    for resolver in _staff_resolvers:
        principal = await resolver(session, given, now)
        if principal is not None:
            return principal
    raise _unauthenticated()


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def tenant_access(*allowed: Role) -> Callable[..., Awaitable[TenantAccess]]:
    """Dependency for routes under ``/api/tenants/{code}``; see the module docstring."""
    roles = allowed or ALL_ROLES

    async def check(code: str, principal: PrincipalDep, session: SessionDep) -> TenantAccess:
        if not principal.may(code, roles):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail={
                    "code": "FORBIDDEN",
                    "message": "この操作の権限がありません / not permitted for this tenant",
                },
            )
        if await tenants.get(session, code) is None:
            raise HTTPException(
                status_code=status.HTTP_404_NOT_FOUND,
                detail={
                    "code": "UNKNOWN_TENANT",
                    "message": "自治体が見つかりません / unknown tenant",
                },
            )
        return TenantAccess(principal, code)

    return check
