"""Live hints: every newly accepted notice wakes the subscriptions it concerns, in every hub
process.

- ``Broadcaster`` fans a hint ``(seq, areas)`` out to this process's live subscriptions whose
  municipality the areas cover. Each subscription has a bounded queue; when a slow subscriber
  lets it fill up the oldest hint is dropped (counted in ``dropped``): hints carry no content
  and the node re-reads the feed from its cursor on any hint, so the newest one is enough.
  Delivery never waits for a subscriber, so one slow connection cannot hold up the others.
- ``HintFanout`` connects publishing to broadcasting. On SQLite (one process) the publisher
  hands the hint to the broadcaster after commit. On PostgreSQL the publishing transaction runs
  ``pg_notify('todoke_notice_published', '<seq>:<area>,<area>…')``; PostgreSQL delivers it
  when (and only if) that transaction commits, to every hub process LISTENing — the publishing
  one included — and each process's ``PgListener`` feeds its own broadcaster. The areas ride
  in the payload so a burst of publishes costs no query per notice and process; a payload of
  just ``<seq>`` (areas too long for a notification) is looked up in ``notice_areas``.
- ``PgListener`` holds its own psycopg connection (autocommit, ``LISTEN``). When it drops it
  reconnects with backoff and replays hints for the notices accepted meanwhile, so a database
  failover costs latency, not wake-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.subscribers.areas import covering_areas
from hub.subscribers.repository import FeedRepository
from hub.subscribers.service import FeedWindows

logger = logging.getLogger(__name__)

CHANNEL = "todoke_notice_published"
DEFAULT_QUEUE_SIZE = 64
REPLAY_LIMIT = 1000
DEFAULT_RECHECK_SECONDS = 60.0
LISTENER_APPLICATION_NAME = "todoke-hub-listener"
MAX_NOTIFY_PAYLOAD = 7000  # PostgreSQL's limit is 8000 bytes


@dataclass(eq=False)
class LiveSubscription:
    """One live ``noticePublished`` subscription of one municipality."""

    municipality: str
    areas: frozenset[str]
    queue: asyncio.Queue[int]
    dropped: int = 0

    def offer(self, seq: int) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(seq)

    async def next_hint(self) -> int:
        return await self.queue.get()


@dataclass
class Broadcaster:
    """This process's live subscriptions (used from the event loop only)."""

    queue_size: int = DEFAULT_QUEUE_SIZE
    _subscriptions: set[LiveSubscription] = field(default_factory=set)

    @contextlib.contextmanager
    def subscribe(self, municipality: str) -> Iterator[LiveSubscription]:
        subscription = LiveSubscription(
            municipality=municipality,
            areas=frozenset(covering_areas(municipality)),
            queue=asyncio.Queue(maxsize=self.queue_size),
        )
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def deliver(self, seq: int, areas: Iterable[str]) -> int:
        """Offer hint ``seq`` to every subscription the areas cover; return how many."""
        notice_areas = set(areas)
        delivered = 0
        for subscription in list(self._subscriptions):
            if subscription.areas & notice_areas:
                subscription.offer(seq)
                delivered += 1
        return delivered

    @property
    def connected(self) -> int:
        return len(self._subscriptions)


def notify_payload(seq: int, areas: Sequence[str] | None) -> str:
    """``<seq>:<areas>`` (or just ``<seq>`` when unknown or too long for a notification)."""
    if areas is None:
        return str(seq)
    payload = f"{seq}:{','.join(areas)}"
    return payload if len(payload) <= MAX_NOTIFY_PAYLOAD else str(seq)


def psycopg_conninfo(database_url: str) -> str:
    """``postgresql+psycopg://…`` / ``postgres://…`` → a libpq URL psycopg accepts."""
    _scheme, _, rest = database_url.partition("://")
    return f"postgresql://{rest}"


class PgListener:
    """LISTENs on ``todoke_notice_published`` and feeds the broadcaster; reconnects."""

    def __init__(
        self,
        *,
        database_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        broadcaster: Broadcaster,
        health_check_seconds: float = 15.0,
        max_backoff_seconds: float = 10.0,
    ) -> None:
        self._conninfo = psycopg_conninfo(database_url)
        self._sessionmaker = sessionmaker
        self._broadcaster = broadcaster
        self._health_check_seconds = health_check_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._last_seq: int | None = None
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.reconnects = 0

    async def start(self) -> None:
        """Start listening; returns once the first LISTEN is in place (or failed once)."""
        self._task = asyncio.create_task(self._run(), name="todoke-hub-pg-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection: reconnect
                self.listening.clear()
                self.reconnects += 1
                logger.warning(
                    "LISTEN %s lost (%s); reconnecting in %.1fs",
                    CHANNEL,
                    type(exc).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311 - jitter
                backoff = min(backoff * 2, self._max_backoff_seconds)
                continue
            backoff = 0.1

    async def _listen_once(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=LISTENER_APPLICATION_NAME
        ) as connection:
            await connection.execute(f"LISTEN {CHANNEL}")
            await self._replay_missed()
            self.listening.set()
            while True:
                async for notify in connection.notifies(timeout=self._health_check_seconds):
                    await self._on_notify(notify.payload)
                await connection.execute("SELECT 1")  # a dead connection raises here

    async def _replay_missed(self) -> None:
        """After (re)connecting: hints for notices accepted while nobody listened."""
        async with self._sessionmaker() as session:
            repo = FeedRepository(session)
            if self._last_seq is None:
                self._last_seq = await repo.last_seq()
                return
            rows = await repo.areas_after(self._last_seq, limit=REPLAY_LIMIT)
        by_seq: dict[int, list[str]] = {}
        for seq, area in rows:
            by_seq.setdefault(seq, []).append(area)
        for seq in sorted(by_seq):
            self._dispatch(seq, by_seq[seq])

    async def _on_notify(self, payload: str) -> None:
        head, has_areas, tail = payload.partition(":")
        try:
            seq = int(head)
        except ValueError:
            logger.warning("ignoring a %s notification that is not a seq", CHANNEL)
            return
        if has_areas:
            areas = [area for area in tail.split(",") if area]
        else:
            async with self._sessionmaker() as session:
                areas = await FeedRepository(session).areas_of(seq)
        self._dispatch(seq, areas)

    def _dispatch(self, seq: int, areas: list[str]) -> None:
        if self._last_seq is None or seq > self._last_seq:
            self._last_seq = seq
        self._broadcaster.deliver(seq, areas)


class HintFanout:
    """What publishing calls: ``in_transaction`` before commit, ``committed`` after."""

    def __init__(
        self,
        *,
        database_url: str,
        backend: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        queue_size: int = DEFAULT_QUEUE_SIZE,
        recheck_seconds: float = DEFAULT_RECHECK_SECONDS,
    ) -> None:
        self.broadcaster = Broadcaster(queue_size=queue_size)
        self.feed_windows = FeedWindows()  # feed pages every woken subscriber reads
        self.recheck_seconds = recheck_seconds
        self.backend = backend
        self.listener: PgListener | None = None
        if backend == "postgresql":
            self.listener = PgListener(
                database_url=database_url,
                sessionmaker=sessionmaker,
                broadcaster=self.broadcaster,
            )

    async def start(self) -> None:
        if self.listener is not None:
            await self.listener.start()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()

    async def in_transaction(
        self, session: AsyncSession, *, seq: int, areas: Sequence[str] | None = None
    ) -> None:
        """PostgreSQL: queue the NOTIFY; it is sent when the transaction commits."""
        if self.backend == "postgresql":
            await session.execute(sa.select(sa.func.pg_notify(CHANNEL, notify_payload(seq, areas))))

    def committed(self, *, seq: int, areas: list[str]) -> None:
        """SQLite (a single process): wake this process's subscriptions directly."""
        if self.backend != "postgresql":
            self.broadcaster.deliver(seq, areas)
