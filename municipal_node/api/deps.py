from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.state import NodeState


def node_state(request: Request) -> NodeState:
    state = request.app.state.node
    if not isinstance(state, NodeState):
        raise RuntimeError("node state missing (lifespan did not run)")
    return state


async def db_session(
    state: Annotated[NodeState, Depends(node_state)],
) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit on success, roll back on error — before the
    response starts (``scope="function"`` below; FastAPI's default request scope would commit
    after the response was sent, so a client reading at once could miss its own write)."""
    async with state.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


StateDep = Annotated[NodeState, Depends(node_state)]
SessionDep = Annotated[AsyncSession, Depends(db_session, scope="function")]
