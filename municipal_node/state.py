"""What a running node holds (built in the lifespan, reached through ``app.state.node``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.settings import NodeSettings
from municipal_node.workers import Workers


@dataclass
class NodeState:
    settings: NodeSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sealer: Sealer
    clock: Clock
    workers: Workers | None
