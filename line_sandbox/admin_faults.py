"""Admin routes for fault injection: ``/sandbox/channels/{name}/faults`` (rules in ``faults.py``).

``POST`` takes either form:

- queue: ``{"endpoint": "multicast", "status": 500, "count": 3, "delay_seconds": 0,
  "process": false}`` — the next ``count`` calls of that endpoint fail so; answers
  ``{"faults": [queued…]}``;
- profile: ``{"error_share": 0.1, "timeout_share": 0.05, "timeout_accepted_share": 0.5,
  "timeout_seconds": 15, "burst_429": {"every": 50, "length": 5}, "seed": 1,
  "endpoints": ["multicast"], "latency_seconds": 0.05}`` (every key optional; ``latency_seconds``
  delays every normally answered call of those endpoints) — replaces the channel's profile and restarts
  its sequence and counters; answers the ``GET`` view.

``GET`` → ``{"faults": queue, "profile": profile or null, "judged_calls": n, "injected":
{kind: count}}``; ``DELETE`` clears the queue, the profile and the counters. A bad body is a 422
``{"error": "invalid_fault", "message": …, "details": [{"field", "message"}]}``.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from line_sandbox.channels import AdminError, get_channel
from line_sandbox.faults import Fault, FaultProfile
from line_sandbox.store import SandboxState

FaultEndpoint = Literal[
    "push",
    "multicast",
    "broadcast",
    "reply",
    "followers",
    "profile",
    "quota",
    "quota_consumption",
    "bot_info",
]
SHARE_TOLERANCE = 1e-9


def _multicast_only() -> list[FaultEndpoint]:
    return ["multicast"]


class FaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: FaultEndpoint
    status: int = Field(default=500, ge=400, le=599)
    count: int = Field(default=1, ge=1, le=1_000_000)
    delay_seconds: float = Field(default=0.0, ge=0, le=60)
    process: bool = False


class BurstIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    every: int = Field(ge=2, le=1_000_000)
    length: int = Field(ge=1)

    @model_validator(mode="after")
    def _shorter_than_cycle(self) -> BurstIn:
        if self.length >= self.every:
            raise ValueError(
                "length は every より小さくしてください / length must be less than every"
            )
        return self


class FaultProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error_share: float = Field(default=0.0, ge=0, le=1)
    timeout_share: float = Field(default=0.0, ge=0, le=1)
    timeout_accepted_share: float = Field(default=0.5, ge=0, le=1)
    timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    burst_429: BurstIn | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    endpoints: list[FaultEndpoint] = Field(default_factory=_multicast_only, min_length=1)
    latency_seconds: float = Field(default=0.0, ge=0, le=10)

    @model_validator(mode="after")
    def _shares_fit(self) -> FaultProfileIn:
        if self.error_share + self.timeout_share > 1 + SHARE_TOLERANCE:
            raise ValueError(
                "error_share と timeout_share の合計は 1 以下にしてください / "
                "error_share + timeout_share must be at most 1"
            )
        return self

    def profile(self) -> FaultProfile:
        return FaultProfile(
            error_share=self.error_share,
            timeout_share=self.timeout_share,
            timeout_accepted_share=self.timeout_accepted_share,
            timeout_seconds=self.timeout_seconds,
            burst_every=None if self.burst_429 is None else self.burst_429.every,
            burst_length=0 if self.burst_429 is None else self.burst_429.length,
            # No seed given: pick one and show it, so the run can be repeated.
            seed=self.seed if self.seed is not None else secrets.randbits(32),
            endpoints=tuple(dict.fromkeys(self.endpoints)),
            latency_seconds=self.latency_seconds,
        )


def _invalid(form_ja: str, form_en: str, exc: ValidationError) -> AdminError:
    details = [
        {
            "field": ".".join(str(part) for part in error["loc"]) or "(body)",
            "message": error["msg"].removeprefix("Value error, "),
        }
        for error in exc.errors(include_url=False)
    ]
    first = details[0]
    return AdminError(
        422,
        "invalid_fault",
        f"障害注入の{form_ja}が不正です / invalid fault {form_en}: "
        f"{first['field']}: {first['message']}",
        details,
    )


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def build_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox")

    @router.post("/channels/{name}/faults")
    async def post_faults(
        name: str, body: Annotated[dict[str, Any], Body()], request: Request
    ) -> dict[str, Any]:
        channel = get_channel(_state(request), name)
        if "endpoint" in body:
            try:
                queued = FaultIn.model_validate(body)
            except ValidationError as exc:
                raise _invalid("キュー", "queue", exc) from exc
            channel.faults.queue.append(
                Fault(
                    queued.endpoint,
                    queued.status,
                    queued.count,
                    queued.delay_seconds,
                    queued.process,
                )
            )
            return {"faults": [vars(f) for f in channel.faults.queue]}
        try:
            profile = FaultProfileIn.model_validate(body)
        except ValidationError as exc:
            raise _invalid("プロファイル", "profile", exc) from exc
        channel.faults.set_profile(profile.profile())
        return channel.faults.view()

    @router.get("/channels/{name}/faults")
    async def read_faults(name: str, request: Request) -> dict[str, Any]:
        return get_channel(_state(request), name).faults.view()

    @router.delete("/channels/{name}/faults")
    async def delete_faults(name: str, request: Request) -> dict[str, Any]:
        channel = get_channel(_state(request), name)
        channel.faults.clear()
        return channel.faults.view()

    return router
