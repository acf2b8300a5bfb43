"""Everything the hub builds at start-up (in the FastAPI lifespan) and hands to requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.clock import Clock
from hub.identity import HubIdentity
from hub.settings import HubSettings
from hub.subscribers.fanout import HintFanout
from hub.subscribers.keyset import KeySetSigner


@dataclass(frozen=True)
class HubState:
    settings: HubSettings
    identity: HubIdentity
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    keyset_signer: KeySetSigner
    fanout: HintFanout  # live hints to subscribers (hub/subscribers/fanout.py)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit when the block returns, roll back when it raises."""
        async with self.sessionmaker.begin() as session:
            yield session
