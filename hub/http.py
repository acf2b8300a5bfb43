"""ASGI middleware in front of the hub: request ids, the HTTP body limit, GraphQL-shaped errors.

- Every request gets a request id (``X-Request-Id`` response header, ``scope["state"]``), used
  when logging unexpected errors so an operator can match a report to a log line.
- A request body over ``max_body_bytes`` is refused with 413 and
  ``{"errors":[{"message":…,"extensions":{"code":"TOO_LARGE"}}]}`` as soon as the declared
  length or the bytes read so far exceed the limit; the rest is never read.
- Plain 4xx answers (the GraphQL view's text for unparsable JSON, no query, …; FastAPI's
  ``{"detail": …}`` for a wrong method or path) are re-shaped into GraphQL errors with code
  ``BAD_REQUEST`` (``METHOD_NOT_ALLOWED``, ``NOT_FOUND``); other JSON passes untouched. An
  exception escaping the app becomes a generic 500 GraphQL error carrying the request id.
- ``POST /graphql`` bodies are first offered to the direct lane (``hub.graphql.direct_lane``):
  the feed reads and publishes it answers skip the framework; the rest go on unchanged.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from hub.graphql.direct_lane import DirectLane

logger = logging.getLogger(__name__)
GRAPHQL_PATHS = ("/graphql", "/graphql/")


def error_body(message: str, code: str, **extra: str) -> bytes:
    extensions = {"code": code, **extra}
    return json.dumps(
        {"errors": [{"message": message, "extensions": extensions}]}, ensure_ascii=False
    ).encode("utf-8")


def graphql_shaped(status: int, body: bytes) -> bytes | None:
    """A GraphQL error body for a plain 4xx answer (text, or FastAPI's ``{"detail": "…"}``);
    ``None`` for any other JSON (GraphQL responses, /healthz, …): passed on untouched."""
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            if set(value) != {"detail"} or not isinstance(value["detail"], str):
                return None
            text = value["detail"]
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}.get(
        status, "BAD_REQUEST"
    )
    return error_body(text or "bad request", code)


async def send_json(send: Send, status: int, body: bytes, request_id: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"x-request-id", request_id.encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class HubHTTPMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, direct: DirectLane | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.direct = direct

    def _too_large(self) -> bytes:
        return error_body(f"request body is larger than {self.max_body_bytes} bytes", "TOO_LARGE")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = os.urandom(16).hex()  # as uuid4().hex reads, at a fraction of its cost
        scope.setdefault("state", {})["request_id"] = request_id
        if self._declared_length(scope) > self.max_body_bytes:
            await send_json(send, 413, self._too_large(), request_id)
            return
        try:
            body, replay = await self._read_body(receive)
        except _TooLarge:
            await send_json(send, 413, self._too_large(), request_id)
            return
        if (
            self.direct is not None
            and body is not None
            and scope["method"] == "POST"
            and scope["path"] in GRAPHQL_PATHS
        ):
            try:
                answer = await self.direct.answer(scope, body)
            except Exception:
                logger.exception(
                    "unexpected error request_id=%s path=%s", request_id, scope["path"]
                )
                body = error_body(
                    "内部エラーが発生しました / internal error", "INTERNAL", request_id=request_id
                )
                await send_json(send, 500, body, request_id)
                return
            if answer is not None:
                await send_json(send, 200, answer, request_id)
                return

        state: dict[str, Any] = {"started": False, "held": None, "chunks": []}

        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                headers = dict(message.get("headers", []))
                content_type = headers.get(b"content-type", b"").decode("latin-1")
                if message["status"] >= 400 and content_type.startswith(
                    ("text/plain", "application/json")
                ):
                    state["held"] = message  # re-shaped below if plain text or {"detail": …}
                    return
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            elif message["type"] == "http.response.body" and state["held"] is not None:
                state["chunks"].append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                held, body = state["held"], b"".join(state["chunks"])
                reshaped = graphql_shaped(int(held["status"]), body)
                if reshaped is None:  # other JSON: pass it on as it was
                    await send(
                        {
                            **held,
                            "headers": [
                                *held.get("headers", []),
                                (b"x-request-id", request_id.encode()),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                else:
                    await send_json(send, int(held["status"]), reshaped, request_id)
                return
            await send(message)

        try:
            await self.app(scope, replay, wrapped_send)
        except Exception:
            logger.exception("unexpected error request_id=%s path=%s", request_id, scope["path"])
            if not state["started"]:
                body = error_body(
                    "内部エラーが発生しました / internal error", "INTERNAL", request_id=request_id
                )
                await send_json(send, 500, body, request_id)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, Receive]:
        """Read the whole body (up to the limit); it (None if the client went away first) and
        a ``receive`` that replays it."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first: Message | None = message
                break
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(body)
            if not message.get("more_body", False):
                first = None
                break
        body = b"".join(chunks)
        pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        if first is not None:
            pending = [first]

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        return (body if first is None else None), replay
