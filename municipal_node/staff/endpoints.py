"""Staff HTTP API: sign-in (``/api/login``, ``/api/logout``, ``/api/me``) and, for a tenant's
admins, staff management under ``/api/tenants/{code}/staff``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse

from municipal_node.api.auth import PrincipalDep, Role, TenantAccess, bearer_token, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.segments.http_errors import ApiRoute
from municipal_node.staff import service, sessions
from municipal_node.staff.errors import StaffError
from municipal_node.staff.passwords import hasher_for
from municipal_node.staff.schemas import (
    LoginIn,
    LoginOut,
    MeOut,
    OwnPasswordIn,
    PasswordResetIn,
    StaffCreate,
    StaffOut,
    StaffPatch,
)

#: ``ApiRoute``: request validation errors answer in the ``{"detail": {"code", "message"}}``
#: shape, Japanese first, and never echo the input (a password typed into the wrong field)
router = APIRouter(tags=["職員 / staff"], route_class=ApiRoute)

Admin = Annotated[TenantAccess, Depends(tenant_access(Role.ADMIN))]
Token = Annotated[str | None, Depends(bearer_token)]


def _error(code: int, what: str) -> dict[int | str, dict[str, Any]]:
    return {code: {"description": what}}


_AUTH = {
    **_error(401, "ログインが必要です / sign-in required"),
    **_error(403, "権限がありません / not permitted"),
}
_STAFF = {**_AUTH, **_error(404, "自治体または職員が見つかりません / unknown tenant or staff")}


def _refuse(exc: StaffError) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return HTTPException(status_code=exc.status, detail=exc.body(), headers=headers)


def _out(view: service.StaffView) -> StaffOut:
    return StaffOut(
        username=view.username,
        display_name=view.display_name,
        role=view.role,
        active=view.active,
        locked_until=view.locked_until,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


@router.post(
    "/api/login",
    summary="ログイン / Sign in",
    response_model=LoginOut,
    responses={
        **_error(401, "ユーザー名またはパスワードが違います / wrong username or password"),
        **_error(403, "アカウントが無効です / account disabled"),
        **_error(423, "連続失敗によりロック中 / locked after repeated failures"),
        **_error(429, "この端末からの失敗が多すぎます / too many failed sign-ins from here"),
    },
)
async def login(
    body: LoginIn, request: Request, state: StateDep, session: SessionDep
) -> LoginOut | JSONResponse:
    """職員のユーザー名とパスワードでログインし、Bearer トークンを受け取ります。
    5回続けて失敗すると15分間ロックされます。同じ端末（IPアドレス）からの失敗が多すぎると、
    しばらく受け付けません（429）。 / Returns a bearer token for the admin API."""
    address = request.client.host if request.client is not None else "unknown"
    now = state.clock.now()
    wait = state.login_throttle.retry_after(address, now)
    if wait is not None:
        return JSONResponse(
            {
                "detail": {
                    "code": "TOO_MANY_ATTEMPTS",
                    "message": f"この端末からのログイン失敗が多すぎます。{wait}秒後にもう一度お試しください"
                    f" / too many failed sign-ins from this address; try again in {wait} s",
                }
            },
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    try:
        result = await sessions.login(
            session,
            hasher=hasher_for(state.settings),
            username=body.username,
            password=body.password.get_secret_value(),
            now=state.clock.now(),
            session_hours=state.settings.staff_session_hours,
        )
    except StaffError as exc:
        if exc.status in (401, 423):
            state.login_throttle.failed(address, now)
        # answered, not raised: the request's unit of work commits the failure count and lock
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.body()}, status_code=exc.status, headers=headers)
    return LoginOut(token=result.token, expires_at=result.expires_at, roles=result.roles)


@router.post(
    "/api/logout",
    summary="ログアウト / Sign out",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_error(401, "ログインが必要です / sign-in required")},
)
async def logout(
    principal: PrincipalDep, token: Token, state: StateDep, session: SessionDep
) -> None:
    """このセッションのトークンを無効にします。 / Revokes the token of this request."""
    if token is None:  # PrincipalDep already required one
        raise HTTPException(status_code=401)
    try:
        await sessions.logout(session, principal=principal, token=token, now=state.clock.now())
    except StaffError as exc:
        raise _refuse(exc) from exc


@router.get(
    "/api/me",
    summary="自分のアカウント / Who am I",
    response_model=MeOut,
    responses={**_error(401, "ログインが必要です / sign-in required")},
)
async def me(principal: PrincipalDep, token: Token, state: StateDep, session: SessionDep) -> MeOut:
    """ログイン中の職員と、自治体ごとの権限。 / The signed-in staff member and their roles."""
    if principal.staff_id is None or principal.roles is None or token is None:
        return MeOut(
            actor=principal.actor,
            operator=True,
            username=None,
            display_name=None,
            roles={},
            session_expires_at=None,
        )
    found = await sessions.session_with_user(session, token=token, now=state.clock.now())
    if found is None:  # the principal was resolved from this very session
        raise HTTPException(status_code=401)
    live, user = found
    return MeOut(
        actor=principal.actor,
        operator=False,
        username=user.username,
        display_name=user.display_name,
        roles={tenant: next(iter(roles)).value for tenant, roles in principal.roles.items()},
        session_expires_at=live.expires_at,
    )


@router.post(
    "/api/me/password",
    summary="自分のパスワード変更 / Change own password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        **_error(401, "ログインが必要です / sign-in required"),
        **_error(403, "現在のパスワードが違います / current password is wrong"),
        **_error(422, "新しいパスワードが条件を満たしません / new password refused"),
    },
)
async def change_own_password(
    body: OwnPasswordIn, principal: PrincipalDep, token: Token, state: StateDep, session: SessionDep
) -> None:
    """現在のパスワードを確認して変更します。他のセッションは終了します。 / Other sessions end."""
    if token is None:  # PrincipalDep already required one
        raise HTTPException(status_code=401)
    try:
        await sessions.change_own_password(
            session,
            hasher=hasher_for(state.settings),
            principal=principal,
            token=token,
            current_password=body.current_password.get_secret_value(),
            new_password=body.new_password.get_secret_value(),
            now=state.clock.now(),
        )
    except StaffError as exc:
        raise _refuse(exc) from exc


@router.get(
    "/api/tenants/{code}/staff",
    summary="職員一覧 / List staff",
    response_model=list[StaffOut],
    responses=_STAFF,
)
async def list_staff(access: Admin, session: SessionDep) -> list[StaffOut]:
    """この自治体に権限を持つ職員（管理者のみ）。 / Staff holding a role on this tenant."""
    try:
        views = await service.list_staff(session, tenant_code=access.tenant_code)
    except StaffError as exc:
        raise _refuse(exc) from exc
    return [_out(view) for view in views]


@router.post(
    "/api/tenants/{code}/staff",
    summary="職員の追加 / Add staff",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffOut,
    responses={
        **_STAFF,
        **_error(409, "ユーザー名が使用済み / username taken"),
        **_error(422, "入力に誤りがあります / invalid input"),
    },
)
async def create_staff(
    body: StaffCreate, access: Admin, state: StateDep, session: SessionDep
) -> StaffOut:
    """新しい職員アカウントを作り、この自治体での権限を与えます。 / Creates an account."""
    try:
        view = await service.create_staff(
            session,
            hasher=hasher_for(state.settings),
            tenant_code=access.tenant_code,
            username=body.username,
            display_name=body.display_name,
            password=body.password.get_secret_value(),
            role=body.role,
            by=access.principal,
            now=state.clock.now(),
        )
    except StaffError as exc:
        raise _refuse(exc) from exc
    return _out(view)


@router.patch(
    "/api/tenants/{code}/staff/{username}",
    summary="職員の権限・有効状態の変更 / Change role or active",
    response_model=StaffOut,
    responses={
        **_STAFF,
        **_error(409, "自分自身や他自治体と共有の職員は変更不可 / self or shared staff"),
        **_error(422, "入力に誤りがあります / invalid input"),
    },
)
async def update_staff(
    username: str, body: StaffPatch, access: Admin, state: StateDep, session: SessionDep
) -> StaffOut:
    """権限を変えるか、アカウントを無効化・再有効化します。 / Disabling ends every session."""
    try:
        view = await service.update_staff(
            session,
            tenant_code=access.tenant_code,
            username=username,
            role=body.role,
            active=body.active,
            by=access.principal,
            now=state.clock.now(),
        )
    except StaffError as exc:
        raise _refuse(exc) from exc
    return _out(view)


@router.post(
    "/api/tenants/{code}/staff/{username}/password",
    summary="職員のパスワード再設定 / Reset a staff password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        **_STAFF,
        **_error(409, "自分自身や他自治体と共有の職員は不可 / self or shared staff"),
        **_error(422, "パスワードが条件を満たしません / password refused"),
    },
)
async def reset_password(
    username: str, body: PasswordResetIn, access: Admin, state: StateDep, session: SessionDep
) -> None:
    """管理者が新しいパスワードを設定します。その職員のセッションはすべて終了し、ロックも
    解除されます。 / Every session of the account ends; a lock is lifted."""
    try:
        await service.reset_password(
            session,
            hasher=hasher_for(state.settings),
            tenant_code=access.tenant_code,
            username=username,
            password=body.password.get_secret_value(),
            by=access.principal,
            now=state.clock.now(),
        )
    except StaffError as exc:
        raise _refuse(exc) from exc


@router.delete(
    "/api/tenants/{code}/staff/{username}",
    summary="職員をこの自治体から外す / Remove staff from this tenant",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_STAFF, **_error(409, "自分自身は外せません / cannot remove yourself")},
)
async def remove_staff(username: str, access: Admin, state: StateDep, session: SessionDep) -> None:
    """この自治体での権限を削除します。どの自治体の権限も無くなったアカウントは無効になります。
    / Removes the role here; an account left with no role is disabled."""
    try:
        await service.remove_from_tenant(
            session,
            tenant_code=access.tenant_code,
            username=username,
            by=access.principal,
            now=state.clock.now(),
        )
    except StaffError as exc:
        raise _refuse(exc) from exc
