"""The feed follower of one tenant: poll the hub, verify, commit item by item, in seq order.

A gap in ``seq`` or a ``seq`` going backwards means the hub (or something between) is not
the hub we followed: the follower halts (``FeedIntegrityError``), logs CRITICAL and reports
it on ``/healthz``; nothing is skipped silently. An unverifiable or expired key set stops the
round without moving the cursor, and the next round tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.errors import ContractError
from municipal_node.clock import Clock
from municipal_node.crypto import Sealer
from municipal_node.relay.hub_client import HubClient, HubError
from municipal_node.relay.service import CursorMovedError, KeySetCache, check_item, commit_outcome
from municipal_node.tenants import repository as tenants
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)

PAGE_SIZE = 100


class FeedIntegrityError(Exception):
    """The feed broke its promise (gap or backwards seq). Never guessed around."""


class FeedFollower:
    def __init__(
        self,
        *,
        tenant_code: str,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        http: httpx.AsyncClient,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.tenant_code = tenant_code
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._http = http
        self._on_stored = on_stored
        self._keysets = KeySetCache()
        self.status = "starting"

    async def poll_once(self) -> int:
        """Read and commit everything the hub has after our cursor; return items consumed.

        Raises ``FeedIntegrityError`` (halt), ``HubError`` / ``ContractError`` (retry later).
        """
        consumed = 0
        while True:
            async with self._sessions() as session:
                config = await load_config(session, self.tenant_code, sealer=self._sealer)
                cursor = await tenants.current_cursor(session, self.tenant_code)
            if config is None or cursor is None:
                raise FeedIntegrityError(f"tenant {self.tenant_code} disappeared")
            page = await HubClient(self._http, config.hub_url).feed_page(
                after=cursor, first=PAGE_SIZE
            )
            if page.last_seq < cursor:
                raise FeedIntegrityError(
                    f"hub's lastSeq {page.last_seq} is behind our cursor {cursor}"
                )
            if not page.items:
                if page.last_seq > cursor or page.has_more:
                    raise FeedIntegrityError(
                        f"hub has lastSeq {page.last_seq} but returned nothing after {cursor}"
                    )
                return consumed
            root_keys = config.root_key_map()
            keyset = self._keysets.current(page.keyset, root_keys=root_keys, now=self._clock.now())
            expected = cursor + 1
            for item in page.items:
                if item.seq != expected:
                    kind = "gap" if item.seq > expected else "seq went backwards"
                    raise FeedIntegrityError(f"{kind}: expected seq {expected}, got {item.seq}")
                now = self._clock.now()
                outcome = await asyncio.to_thread(
                    check_item,
                    item,
                    keyset=keyset,
                    root_keys=root_keys,
                    tenant_code=self.tenant_code,
                    now=now,
                )
                try:
                    what = await commit_outcome(
                        self._sessions,
                        tenant_code=self.tenant_code,
                        item=item,
                        outcome=outcome,
                        now=now,
                    )
                except CursorMovedError:
                    log.warning(
                        "tenant %s: cursor moved by someone else; re-reading", self.tenant_code
                    )
                    break
                consumed += 1
                expected += 1
                if what == "stored" and self._on_stored is not None:
                    self._on_stored()
            else:
                if not page.has_more:
                    return consumed

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set. Halts for good on ``FeedIntegrityError``."""
        self.status = "running"
        while not stop.is_set():
            try:
                await self.poll_once()
                self.status = "running"
            except FeedIntegrityError as exc:
                self.status = f"halted: {exc}"
                log.critical(
                    "tenant %s: FEED INTEGRITY ERROR, follower stopped: %s. Nothing after the "
                    "cursor is processed until an operator looks at the hub.",
                    self.tenant_code,
                    exc,
                )
                return
            except (HubError, ContractError) as exc:
                self.status = f"retrying: {exc}"
                log.error("tenant %s: feed round failed, will retry: %s", self.tenant_code, exc)
            except Exception:
                self.status = "retrying: unexpected error"
                log.exception("tenant %s: unexpected error in the feed follower", self.tenant_code)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
        self.status = "stopped"
