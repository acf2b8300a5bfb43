"""The feed follower of one tenant: read the hub's feed, verify, commit item by item, in order.

A round reads ``notices(after: cursor)`` page by page. The hub returns only notices whose area
covers this municipality, so seqs may skip; ``scannedTo`` says how far the hub looked, and the
cursor moves there with the page's last item (or alone when the page is empty). A seq at or
below the cursor, seqs out of order, or a hub that claims more but makes no progress means the
hub (or something between) is not the hub we followed: the follower halts
(``FeedIntegrityError``), logs CRITICAL and reports it on ``/healthz``; nothing is skipped
silently. An unverifiable or expired key set stops the round without moving the cursor.

When rounds run: at once when ``wake`` is set (a subscription hint, or the subscription
connecting or dropping), every ``interval`` while the subscription is not live (polling), and
every ``idle_interval`` as a safety net while it is. A refused credential (``UNAUTHENTICATED``)
is logged loudly and retried with a growing backoff; the tenant's configuration is read again
every round, so ``todoke node set-hub-credential`` repairs it without a restart.
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
from municipal_node.relay.backoff import Backoff, wait_any
from municipal_node.relay.hub_client import HubAuthError, HubClient, HubError
from municipal_node.relay.schemas import FeedPage
from municipal_node.relay.service import (
    CursorMovedError,
    KeySetCache,
    advance_cursor,
    check_item,
    commit_outcome,
    record_keyset,
)
from municipal_node.tenants import repository as tenants
from municipal_node.tenants.service import load_config

log = logging.getLogger(__name__)

PAGE_SIZE = 100


class FeedIntegrityError(Exception):
    """The feed broke its promise (seq not after the cursor, out of order). Never guessed around."""


def check_page(page: FeedPage, *, cursor: int) -> None:
    """The promises of one feed page relative to our cursor; ``FeedIntegrityError`` if broken."""
    if page.last_seq < cursor:
        raise FeedIntegrityError(f"hub's lastSeq {page.last_seq} is behind our cursor {cursor}")
    if page.scanned_to < cursor:
        raise FeedIntegrityError(f"hub's scannedTo {page.scanned_to} is behind our cursor {cursor}")
    previous = cursor
    for item in page.items:
        if item.seq <= previous:
            what = "at or before our cursor" if previous == cursor else "out of order"
            raise FeedIntegrityError(
                f"seq went backwards: seq {item.seq} {what} (after {previous})"
            )
        previous = item.seq
    if previous > page.scanned_to:
        raise FeedIntegrityError(f"seq {previous} is beyond the page's scannedTo {page.scanned_to}")
    if page.has_more and page.scanned_to == cursor:
        raise FeedIntegrityError(f"hub says it has more after {cursor} but made no progress")


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
        auth_backoff: Backoff | None = None,
        on_auth_recovered: Callable[[], None] | None = None,
    ) -> None:
        self.tenant_code = tenant_code
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._http = http
        self._on_stored = on_stored
        self._auth_backoff = auth_backoff or Backoff(0.5, 60.0)
        #: called when the feed accepts the credential again after a refusal
        self.on_auth_recovered = on_auth_recovered
        self._keysets = KeySetCache()
        #: set to run a round now (subscription hints, (re)connects, drops)
        self.wake = asyncio.Event()
        self.status = "starting"

    async def poll_once(self) -> int:
        """Read and commit everything the hub has after our cursor; return items consumed.

        Raises ``FeedIntegrityError`` (halt), ``HubAuthError`` (credential refused),
        ``HubError`` / ``ContractError`` (retry later).
        """
        consumed = 0
        while True:
            async with self._sessions() as session:
                config = await load_config(session, self.tenant_code, sealer=self._sealer)
                cursor = await tenants.current_cursor(session, self.tenant_code)
            if config is None or cursor is None:
                raise FeedIntegrityError(f"tenant {self.tenant_code} disappeared")
            client = HubClient(self._http, config.hub_url, credential=config.hub_credential)
            page = await client.feed_page(after=cursor, first=PAGE_SIZE)
            check_page(page, cursor=cursor)
            if not page.items:
                if page.scanned_to > cursor:
                    try:
                        await advance_cursor(
                            self._sessions,
                            tenant_code=self.tenant_code,
                            from_seq=cursor,
                            to_seq=page.scanned_to,
                        )
                    except CursorMovedError:
                        log.warning("tenant %s: cursor moved by someone else", self.tenant_code)
                        continue
                if page.has_more:
                    continue
                return consumed
            root_keys = config.root_key_map()
            now = self._clock.now()
            keyset, fresh = self._keysets.current(page.keyset, root_keys=root_keys, now=now)
            if fresh:
                await record_keyset(
                    self._sessions,
                    tenant_code=self.tenant_code,
                    keyset=keyset,
                    raw=page.keyset,
                    now=now,
                )
            previous = cursor
            last = page.items[-1]
            for item in page.items:
                now = self._clock.now()
                outcome = await asyncio.to_thread(
                    check_item,
                    item,
                    keyset=keyset,
                    root_keys=root_keys,
                    tenant_code=self.tenant_code,
                    now=now,
                )
                target = page.scanned_to if item is last else item.seq
                try:
                    what = await commit_outcome(
                        self._sessions,
                        tenant_code=self.tenant_code,
                        item=item,
                        outcome=outcome,
                        now=now,
                        from_seq=previous,
                        to_seq=target,
                    )
                except CursorMovedError:
                    log.warning(
                        "tenant %s: cursor moved by someone else; re-reading", self.tenant_code
                    )
                    break
                consumed += 1
                previous = target
                if what == "stored" and self._on_stored is not None:
                    self._on_stored()
            else:
                if not page.has_more:
                    return consumed

    async def run(
        self,
        interval: float,
        stop: asyncio.Event,
        *,
        live: Callable[[], bool] | None = None,
        idle_interval: float | None = None,
    ) -> None:
        """Run rounds until ``stop`` is set. Halts for good on ``FeedIntegrityError``.

        ``live`` says whether the subscription is up; then rounds run on ``wake`` and every
        ``idle_interval`` (default: ``interval``), else every ``interval`` (polling)."""
        self.status = "running"
        auth_failures = 0
        while not stop.is_set():
            self.wake.clear()  # a hint during the round below causes another round
            subscribed = live is not None and live()
            delay = max(interval, idle_interval or interval) if subscribed else interval
            try:
                await self.poll_once()
                if auth_failures:
                    log.warning(
                        "tenant %s: the hub accepts the subscriber credential again",
                        self.tenant_code,
                    )
                    if self.on_auth_recovered is not None:
                        self.on_auth_recovered()
                auth_failures = 0
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
            except HubAuthError:
                delay = self._auth_backoff.long_delay(auth_failures)
                auth_failures += 1
                self.status = (
                    "unauthenticated: ハブが認証情報を拒否しました / the hub refused the "
                    "subscriber credential (UNAUTHENTICATED); fix with "
                    f"`todoke node set-hub-credential --tenant {self.tenant_code}`"
                )
                log.error(
                    "tenant %s: THE HUB REFUSED THE SUBSCRIBER CREDENTIAL (UNAUTHENTICATED, "
                    "attempt %d): no notices are received. Set the credential the hub issued "
                    "with `todoke node set-hub-credential --tenant %s --credential ...`; "
                    "retrying in %.1f s",
                    self.tenant_code,
                    auth_failures,
                    self.tenant_code,
                    delay,
                )
            except (HubError, ContractError) as exc:
                self.status = f"retrying: {exc}"
                log.error("tenant %s: feed round failed, will retry: %s", self.tenant_code, exc)
            except Exception:
                self.status = "retrying: unexpected error"
                log.exception("tenant %s: unexpected error in the feed follower", self.tenant_code)
            await wait_any(stop, self.wake, timeout=delay)
        self.status = "stopped"
