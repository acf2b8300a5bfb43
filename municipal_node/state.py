"""What a running node holds (built in the lifespan, reached through ``app.state.node``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.settings import NodeSettings
from municipal_node.staff.throttle import LoginThrottle
from municipal_node.workers import Workers


@dataclass
class NodeState:
    settings: NodeSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sealer: Sealer
    clock: Clock
    workers: Workers | None
    #: failed sign-ins per client address (``/api/login``)
    login_throttle: LoginThrottle = field(init=False)

    def __post_init__(self) -> None:
        self.login_throttle = LoginThrottle(
            limit=self.settings.staff_login_failures_per_address, window=timedelta(minutes=15)
        )
