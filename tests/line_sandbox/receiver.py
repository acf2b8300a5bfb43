"""A tiny webhook receiver (the bot's side) that checks signatures with line-bot-sdk."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhook import WebhookParser


@dataclass
class Received:
    body: dict[str, Any]
    signature_valid: bool
    parsed_types: list[str]


@dataclass
class Receiver:
    secret: str
    fail_first: int = 0  # answer 500 to the first N POSTs
    sleep_first: float = 0.0  # sleep this long on the first POST (timeout tests)
    posts: list[Received] = field(default_factory=list)

    def app(self) -> FastAPI:
        parser = WebhookParser(self.secret)
        app = FastAPI()

        @app.post("/callback")
        async def callback(request: Request) -> Response:
            raw = (await request.body()).decode("utf-8")
            signature = request.headers.get("x-line-signature", "")
            try:
                events = parser.parse(raw, signature)
                valid = True
            except InvalidSignatureError:
                events, valid = [], False
            self.posts.append(Received(json.loads(raw), valid, [e.type for e in events]))
            number = len(self.posts)
            if number == 1 and self.sleep_first:
                await asyncio.sleep(self.sleep_first)
            if number <= self.fail_first:
                return Response(status_code=500)
            return Response(status_code=200 if valid else 400)

        return app
