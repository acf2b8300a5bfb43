from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.state import NodeState

_bearer = HTTPBearer(auto_error=False)


def node_state(request: Request) -> NodeState:
    state = request.app.state.node
    if not isinstance(state, NodeState):
        raise RuntimeError("node state missing (lifespan did not run)")
    return state


async def db_session(
    state: Annotated[NodeState, Depends(node_state)],
) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit on success, roll back on error."""
    async with state.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def require_admin(
    state: Annotated[NodeState, Depends(node_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = state.settings.admin_token
    given = credentials.credentials if credentials is not None else ""
    if expected is None or not hmac.compare_digest(
        given.encode("utf-8"), expected.get_secret_value().encode("utf-8")
    ):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail={
                "code": "UNAUTHENTICATED",
                "message": "管理トークンが必要です / admin token required",
            },
            headers={"WWW-Authenticate": "Bearer"},
        )


StateDep = Annotated[NodeState, Depends(node_state)]
SessionDep = Annotated[AsyncSession, Depends(db_session)]
