"""Configuration of the hub: one pydantic-settings class, environment prefix ``TODOKE_HUB_``."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# [a-z0-9-]{1,32}, not starting with "-" (contracts.ids.HUB_ID_RE must also accept it)
HUB_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
KEY_LABEL_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")
MAX_KEYSET_VALIDITY_HOURS = 168  # CONTRACT §4: valid_until <= issued_at + 7 days


class SettingsError(Exception):
    """A setting needed for the requested operation is missing or unusable."""


class HubSettings(BaseSettings):
    """Hub configuration, read from ``TODOKE_HUB_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TODOKE_HUB_", extra="ignore")

    database_url: str = "sqlite:///todoke-hub.db"
    hub_id: str | None = None
    root_key_file: Path | None = None
    root_key_label: str = "root1"
    keyset_validity_hours: int = Field(default=72, ge=1, le=MAX_KEYSET_VALIDITY_HOURS)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Abuse limits (hub/graphql/limits.py, hub/ratelimit.py). Rate limits are per process:
    # with N replicas a client may get up to N times these figures.
    rate_publish_per_second: float = Field(default=50.0, gt=0)
    rate_publish_burst: int = Field(default=100, ge=1)
    rate_read_per_second: float = Field(default=200.0, gt=0)
    rate_read_burst: int = Field(default=400, ge=1)
    rate_max_clients: int = Field(default=100_000, ge=1)
    query_max_depth: int = Field(default=10, ge=4)
    query_max_aliases: int = Field(default=30, ge=0)
    query_max_tokens: int = Field(default=2000, ge=200)
    query_max_cost: int = Field(default=25_000, ge=1000)
    query_max_chars: int = Field(default=20_000, ge=1000)
    # the demo's simulated clock (hub/clock.py FileClock); never set in production
    clock_file: Path | None = None

    @field_validator("hub_id", "root_key_file", "clock_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("hub_id")
    @classmethod
    def _check_hub_id(cls, value: str | None) -> str | None:
        if value is not None and not HUB_ID_RE.fullmatch(value):
            raise ValueError("hub id must match [a-z0-9-]{1,32}, e.g. 'aichi'")
        return value

    @field_validator("root_key_label")
    @classmethod
    def _check_label(cls, value: str) -> str:
        if not KEY_LABEL_RE.fullmatch(value):
            raise ValueError("root key label must match [A-Za-z0-9._-]{1,32}")
        return value

    def require_hub_id(self) -> str:
        if self.hub_id is None:
            raise SettingsError(
                "TODOKE_HUB_HUB_ID が未設定です / TODOKE_HUB_HUB_ID is not set (e.g. 'aichi')"
            )
        return self.hub_id

    def require_root_key_file(self) -> Path:
        if self.root_key_file is None:
            raise SettingsError(
                "TODOKE_HUB_ROOT_KEY_FILE が未設定です / TODOKE_HUB_ROOT_KEY_FILE is not set "
                "(a PEM Ed25519 private key, e.g. from `todoke keys new`)"
            )
        return self.root_key_file

    @property
    def root_kid(self) -> str:
        """``hub-<hub id>/<label>``: the kid of the key that signs key sets and receipts."""
        return f"hub-{self.require_hub_id()}/{self.root_key_label}"
