"""The live subscription of one tenant: ``noticePublished`` over graphql-transport-ws.

One WebSocket per tenant to ``<hub_url>/graphql`` (http→ws, https→wss), subprotocol
``graphql-transport-ws``: ``connection_init`` with ``{"authorization": "Bearer <credential>"}``,
wait for ``connection_ack``, ``subscribe`` to ``subscription { noticePublished { seq } }``,
answer every ``ping`` with a ``pong``. A hint carries only a seq and is never trusted for
content: it just wakes the tenant's feed follower, which reads the feed. Connecting, and
dropping, wake the follower too (it catches up after a reconnect, and falls back to polling
while the subscription is down — ``live`` is False then).

Reconnects use exponential backoff with full jitter; the attempt counter resets once a
connection stayed up ``stable_after`` seconds. A hub that closes with 4401 (or answers the
upgrade with 401) refused the credential: a longer backoff and a loud log; ``retry_now``
(set by the follower when the feed accepts the credential again) cuts that wait short.
The credential is never logged: websockets' frame-level debug log is switched off here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from municipal_node.relay.backoff import Backoff, wait_any
from municipal_node.tenants.schemas import TenantConfig

log = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("graphql-transport-ws")
SUBSCRIBE_QUERY = "subscription { noticePublished { seq } }"
SUBSCRIPTION_ID = "notice-published"
AUTH_CLOSE_CODES = frozenset({4401, 4403})


class SubscriptionAuthError(Exception):
    """The hub refused our credential (close 4401/4403, HTTP 401, or none configured)."""


class SubscriptionDropped(Exception):
    """The subscription could not be set up or ended (network, protocol, hub closed it)."""


class _NoFrameDebugLog(logging.LoggerAdapter[logging.Logger]):
    """websockets logs every frame at DEBUG — connection_init carries the credential."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


def ws_url(hub_url: str) -> str:
    """``http(s)://host/base`` → ``ws(s)://host/base/graphql``."""
    parts = urlsplit(hub_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"hub URL must be http(s), got {parts.scheme!r}")
    return urlunsplit((scheme, parts.netloc, parts.path + "/graphql", "", ""))


Sleep = Callable[[float], Awaitable[None]]
ConfigLoader = Callable[[], Awaitable[TenantConfig | None]]


class SubscriptionClient:
    def __init__(
        self,
        *,
        tenant_code: str,
        load_config: ConfigLoader,
        on_wake: Callable[[], None],
        backoff: Backoff,
        poll_interval: float,
        sleep: Sleep | None = None,
        ack_timeout: float = 10.0,
        stable_after: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tenant_code = tenant_code
        self._load_config = load_config
        self._on_wake = on_wake
        self._backoff = backoff
        self._poll_interval = poll_interval
        self._sleep = sleep
        self._ack_timeout = ack_timeout
        self._stable_after = stable_after
        self._monotonic = monotonic
        self._logger = _NoFrameDebugLog(logging.getLogger(f"{__name__}.websocket"), {})
        #: set to end a reconnect wait early (e.g. the credential was fixed)
        self.retry_now = asyncio.Event()
        self.live = False
        self.state = "starting"
        self.hints = 0
        self.connections = 0
        #: the delays waited before reconnecting, newest last (for operators and tests)
        self.delays: list[float] = []

    async def run(self, stop: asyncio.Event) -> None:
        """Stay subscribed until ``stop`` is set; never raises."""
        attempt = 0
        auth_failures = 0
        while not stop.is_set():
            connected_at: list[float] = []
            try:
                await self._session(stop, connected_at)
                break  # returns only when stopping
            except SubscriptionAuthError as exc:
                delay = self._backoff.long_delay(auth_failures)
                auth_failures += 1
                self.state = (
                    "unauthenticated: ハブが認証情報を拒否しました / the hub refused the "
                    f"subscriber credential ({exc}); polling every {self._poll_interval:g} s"
                )
                log.error(
                    "tenant %s: THE HUB REFUSED THE SUBSCRIPTION CREDENTIAL (%s, attempt %d); "
                    "fix it with `todoke node set-hub-credential --tenant %s`; "
                    "retrying in %.1f s",
                    self.tenant_code,
                    exc,
                    auth_failures,
                    self.tenant_code,
                    delay,
                )
            except Exception as exc:  # every failure of a session means: reconnect later
                if connected_at and self._monotonic() - connected_at[0] >= self._stable_after:
                    attempt = 0
                if connected_at:
                    auth_failures = 0
                delay = self._backoff.delay(attempt)
                attempt += 1
                reason = _describe(exc)
                if reason.startswith("unexpected"):
                    log.exception("tenant %s: unexpected subscription error", self.tenant_code)
                self.state = (
                    f"down: {reason}; polling every {self._poll_interval:g} s, "
                    f"reconnecting in {delay:.1f} s"
                )
                log.warning(
                    "tenant %s: subscription down (%s); polling, reconnecting in %.1f s",
                    self.tenant_code,
                    reason,
                    delay,
                )
            finally:
                if self.live:
                    self.live = False
                    self._on_wake()  # the follower re-evaluates: polling from now on
            if stop.is_set():
                break
            self.delays.append(delay)
            del self.delays[:-50]
            self.retry_now.clear()
            if self._sleep is not None:
                await self._sleep(delay)
            else:
                await wait_any(stop, self.retry_now, timeout=delay)
        self.state = "stopped"

    async def _session(self, stop: asyncio.Event, connected_at: list[float]) -> None:
        config = await self._load_config()
        if config is None:
            raise SubscriptionDropped(f"tenant {self.tenant_code} disappeared")
        if not config.hub_credential:
            raise SubscriptionAuthError("no hub credential configured")
        self.state = "connecting"
        try:
            async with connect(
                ws_url(config.hub_url),
                subprotocols=[SUBPROTOCOL],
                open_timeout=self._ack_timeout,
                logger=self._logger,
            ) as ws:
                await self._handshake(ws, config.hub_credential)
                connected_at.append(self._monotonic())
                self.live = True
                self.connections += 1
                self.state = "live"
                log.info("tenant %s: subscribed to the hub's noticePublished", self.tenant_code)
                self._on_wake()  # catch up on whatever was published while we were away
                await self._listen(ws, stop)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:  # (403 is what a server without a WebSocket route answers)
                raise SubscriptionAuthError(f"HTTP {status} on upgrade") from exc
            raise SubscriptionDropped(f"hub answered HTTP {status} to the upgrade") from exc
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code in AUTH_CLOSE_CODES:
                raise SubscriptionAuthError(f"closed with {code}") from exc
            raise SubscriptionDropped(f"connection closed ({code})") from exc

    async def _handshake(self, ws: ClientConnection, credential: str) -> None:
        if ws.subprotocol != SUBPROTOCOL:
            raise SubscriptionDropped("hub does not speak graphql-transport-ws")
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {credential}"}}
            )
        )
        async with asyncio.timeout(self._ack_timeout):
            while True:
                message = _decode(await ws.recv())
                kind = message.get("type")
                if kind == "connection_ack":
                    break
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind != "pong":
                    raise SubscriptionDropped(f"expected connection_ack, got {kind!r}")
        await ws.send(
            json.dumps(
                {"id": SUBSCRIPTION_ID, "type": "subscribe", "payload": {"query": SUBSCRIBE_QUERY}}
            )
        )

    async def _listen(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        receiving = asyncio.ensure_future(self._receive(ws))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (receiving, stopping):
                if not task.done():
                    task.cancel()
            await asyncio.gather(receiving, stopping, return_exceptions=True)
        if receiving in done:
            receiving.result()  # raises why it ended
            raise SubscriptionDropped("the hub ended the subscription")
        try:  # stopping: say goodbye properly
            await ws.send(json.dumps({"id": SUBSCRIPTION_ID, "type": "complete"}))
        except ConnectionClosed:
            pass
        await ws.close()

    async def _receive(self, ws: ClientConnection) -> None:
        async for raw in ws:
            message = _decode(raw)
            kind = message.get("type")
            if kind == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif kind == "next" and message.get("id") == SUBSCRIPTION_ID:
                self.hints += 1
                self._on_wake()  # a hint only: the follower reads the feed
            elif kind == "error":
                if "UNAUTHENTICATED" in json.dumps(message.get("payload"))[:2000]:
                    raise SubscriptionAuthError("subscription refused: UNAUTHENTICATED")
                raise SubscriptionDropped("the hub refused the subscription (error message)")
            elif kind == "complete":
                raise SubscriptionDropped("the hub completed the subscription")
            elif kind != "pong":
                log.warning(
                    "tenant %s: ignoring unexpected subscription message type %r",
                    self.tenant_code,
                    str(kind)[:40],
                )
        code = ws.close_code
        if code in AUTH_CLOSE_CODES:
            raise SubscriptionAuthError(f"closed with {code}")
        raise SubscriptionDropped(f"hub closed the connection ({code})")


def _decode(raw: str | bytes) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raise SubscriptionDropped("binary frame on a graphql-transport-ws connection")
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise SubscriptionDropped("a subscription message is not JSON") from exc
    if not isinstance(message, dict):
        raise SubscriptionDropped("a subscription message is not a JSON object")
    return message


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SubscriptionDropped):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError | WebSocketException):
        return f"{type(exc).__name__}: {exc}"[:200]
    return f"unexpected {type(exc).__name__}"
