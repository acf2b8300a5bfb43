"""Configuration of the LINE sandbox: one pydantic-settings class, prefix ``TODOKE_SANDBOX_``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MULTICAST_RATE = 200
DEFAULT_PUSH_RATE = 2000


class SandboxSettings(BaseSettings):
    """Sandbox configuration, read from ``TODOKE_SANDBOX_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TODOKE_SANDBOX_", extra="ignore")

    # A channel created at start (optional; more can be created with POST /sandbox/channels).
    channel_name: str | None = None
    channel_secret: str | None = None
    channel_access_token: str | None = None
    webhook_url: str | None = None
    friends: int = Field(default=0, ge=0, le=10_000_000)
    # The start channel in bench mode: friend ids computed from their index, counters only.
    channel_bench: bool = False

    # Rate limits (requests per second per channel and endpoint; broadcast/narrowcast per hour).
    multicast_rate_per_second: int = Field(default=DEFAULT_MULTICAST_RATE, ge=1)
    push_rate_per_second: int = Field(default=DEFAULT_PUSH_RATE, ge=1)
    other_rate_per_second: int = Field(default=DEFAULT_PUSH_RATE, ge=1)
    broadcast_rate_per_hour: int = Field(default=60, ge=1)
    # Monthly message limit (recipients); None = unlimited (地方公共団体プラン).
    monthly_limit: int | None = Field(default=None, ge=0)

    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    retry_key_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    reply_token_ttl_seconds: int = Field(default=600, ge=1)

    # Raw record of LINE API calls (GET /sandbox/exchanges): ring buffer size, body cap.
    exchanges_capacity: int = Field(default=2000, ge=0)
    exchange_body_limit_bytes: int = Field(default=256 * 1024, ge=0)
    # False = bench mode: keep only per-user counts, not the list of received requests.
    record_inboxes: bool = True

    webhook_timeout_seconds: float = Field(default=2.0, gt=0)
    webhook_batch_size: int = Field(default=100, ge=1, le=100)
    webhook_concurrency: int = Field(default=4, ge=1, le=64)

    # the demo's simulated clock (line_sandbox/clock.py FileClock); never set in production
    clock_file: Path | None = None

    @model_validator(mode="after")
    def _initial_channel_complete(self) -> SandboxSettings:
        if self.channel_name is not None and (
            not self.channel_secret or not self.channel_access_token
        ):
            raise ValueError(
                "channel_name needs channel_secret and channel_access_token "
                "(TODOKE_SANDBOX_CHANNEL_SECRET / TODOKE_SANDBOX_CHANNEL_ACCESS_TOKEN)"
            )
        return self
