"""Configuration of the municipal node (environment prefix ``TODOKE_NODE_``)."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class NodeSettings(BaseSettings):
    """Every knob of the node. Secrets have no defaults."""

    model_config = SettingsConfigDict(env_prefix="TODOKE_NODE_", extra="ignore")

    database_url: str = "sqlite:///todoke-node.db"
    encryption_key: SecretStr = Field(
        description="base64 of 32 random bytes; AES-256-GCM key for data at rest"
    )
    admin_token: SecretStr | None = Field(
        default=None, description="bearer token for /api/*; /api/* answers 401 while unset"
    )
    poll_interval_seconds: float = Field(default=5.0, gt=0)
    line_timeout_seconds: float = Field(default=10.0, gt=0)
    line_retry_attempts: int = Field(default=4, ge=1, le=10)
    line_backoff_base_seconds: float = Field(default=0.5, ge=0)
    hub_timeout_seconds: float = Field(default=10.0, gt=0)
    subscribe: bool = Field(
        default=True,
        description="keep a live noticePublished subscription per tenant (else poll only)",
    )
    idle_poll_seconds: float = Field(
        default=300.0,
        gt=0,
        description="safety-net feed read while the subscription is live",
    )
    hub_backoff_base_seconds: float = Field(
        default=0.5, gt=0, description="reconnect/refused-credential backoff: first ceiling"
    )
    hub_backoff_cap_seconds: float = Field(
        default=60.0, gt=0, description="reconnect/refused-credential backoff: largest delay"
    )

    @model_validator(mode="after")
    def _backoff_cap_above_base(self) -> NodeSettings:
        if self.hub_backoff_cap_seconds < self.hub_backoff_base_seconds:
            raise ValueError("hub_backoff_cap_seconds must be ≥ hub_backoff_base_seconds")
        return self

    @field_validator("encryption_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr) -> SecretStr:
        decode_key(value.get_secret_value())
        return value

    def key_bytes(self) -> bytes:
        return decode_key(self.encryption_key.get_secret_value())


def decode_key(text: str) -> bytes:
    """Decode a base64 (standard or url-safe, padding optional) 32-byte key."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("encryption key must be base64 of 32 bytes") from exc
    if len(raw) != 32:
        raise ValueError(f"encryption key must be 32 bytes, got {len(raw)}")
    return raw
