"""Fixtures that run the LINE sandbox (and a webhook receiver) as real servers on loopback.

``sandbox_server`` yields the base URL of a fresh sandbox with one channel (``CHANNEL``) and
``FRIENDS`` simulated friends; ``make_sandbox`` starts one with any ``SandboxSettings``;
``sandbox_with_state`` also gives the running sandbox's in-memory state (for size checks);
``serve_in_thread`` runs any ASGI app under uvicorn in a background thread on a free port and is
reusable by other test packages (``from tests.line_sandbox.conftest import serve_in_thread``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from line_sandbox.app import create_app
from line_sandbox.clock import Clock
from line_sandbox.settings import SandboxSettings
from line_sandbox.store import SandboxState
from todoke.serving import bind_socket, url_of

CHANNEL = "test-channel"
SECRET = "test-secret-0123456789abcdef"
TOKEN = "test-token-abcdef"
FRIENDS = 5
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def serve_in_thread(app: Any, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1:<free port> in a thread; yield its base URL; stop it after."""
    sock = bind_socket("127.0.0.1", 0)  # IPPROTO_TCP, so asyncio sets TCP_NODELAY
    url = url_of(sock)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def default_settings(**overrides: Any) -> SandboxSettings:
    values: dict[str, Any] = {
        "channel_name": CHANNEL,
        "channel_secret": SECRET,
        "channel_access_token": TOKEN,
        "friends": FRIENDS,
    }
    values.update(overrides)
    return SandboxSettings(**values)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., str]]:
    """Start a sandbox with ``default_settings(**overrides)``; returns its base URL."""
    stack: list[Any] = []

    def start(clock: Clock | None = None, **overrides: Any) -> str:
        context = serve_in_thread(create_app(default_settings(**overrides), clock=clock))
        url = context.__enter__()
        stack.append(context)
        return url

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def sandbox_server(make_sandbox: Callable[..., str]) -> str:
    """Base URL of a fresh sandbox: channel ``CHANNEL`` (token ``TOKEN``) with 5 friends."""
    return make_sandbox()


@pytest.fixture
def sandbox_with_state() -> Iterator[tuple[str, SandboxState]]:
    """A fresh sandbox like ``sandbox_server``, and its ``SandboxState`` (read it, don't write)."""
    app = create_app(default_settings())
    with serve_in_thread(app) as url:
        state: SandboxState = app.state.sandbox
        yield url, state
