"""Configuration of the municipal node (environment prefix ``TODOKE_NODE_``)."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from municipal_node.crypto import Sealer


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
    line_retry_attempts: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="attempts of one outbox batch (429/5xx/timeouts, retried later with "
        "backoff) before it fails for good",
    )
    line_backoff_base_seconds: float = Field(default=0.5, ge=0)
    line_backoff_cap_seconds: float = Field(
        default=60.0, gt=0, description="largest delay between two attempts of one batch"
    )
    line_multicast_rate: float = Field(
        default=190.0,
        gt=0,
        le=2000,
        description="multicast requests/s per LINE channel, for all sending processes together "
        "(LINE allows 200)",
    )
    line_multicast_burst: int = Field(
        default=10, ge=1, le=200, description="multicast requests that may start at once"
    )
    line_multicast_rate_by_tenant: dict[str, float] = Field(
        default_factory=dict,
        description='per-tenant override of line_multicast_rate, JSON {"23235": 100}',
    )
    dispatch_concurrency: int = Field(
        default=16,
        ge=0,
        le=256,
        description="concurrent senders per tenant in this process (0: this process does not send)",
    )
    dispatch_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="processes sending for this node (node serve + dispatch workers); each takes "
        "this share of the multicast rate",
    )
    dispatch_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="how long a claimed batch stays with its sender; a crashed sender's batches "
        "are re-sent (same retry key) after it",
    )
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

    staff_login_failures_per_address: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="failed sign-ins one client address may make per 15 minutes (per process)",
    )
    staff_session_hours: float = Field(
        default=8.0, gt=0, le=24 * 30, description="lifetime of a staff sign-in session"
    )
    staff_password_time_cost: int = Field(
        default=3, ge=1, le=20, description="argon2id iterations for staff passwords"
    )
    staff_password_memory_kib: int = Field(
        default=65536, ge=1024, le=4 * 1024 * 1024, description="argon2id memory (KiB)"
    )
    staff_password_parallelism: int = Field(
        default=4, ge=1, le=16, description="argon2id lanes for staff passwords"
    )

    # residents import, key rotation and retention (municipal_node/residents, privacy)
    previous_encryption_keys: SecretStr | None = Field(
        default=None,
        description="comma-separated base64 32-byte keys used before the current one; data "
        "sealed under them still opens until `todoke node rotate-key` re-sealed it",
    )
    import_max_bad_share: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="with --skip-bad / skip_bad=true, refuse a resident CSV whose share of "
        "bad lines is above this (a broken export must not empty the list)",
    )
    retention_line_payload_days: int = Field(
        default=30, ge=0, description="blank webhook/inbox payloads after N days (0: keep)"
    )
    retention_registration_code_days: int = Field(
        default=90,
        ge=0,
        description="delete used, revoked or expired registration codes N days after (0: keep)",
    )
    retention_outbox_user_ids_days: int = Field(
        default=30,
        ge=0,
        description="empty the LINE user id lists of finished outbox batches after N days "
        "(counts stay) (0: keep)",
    )
    retention_audit_days: int = Field(
        default=1827, ge=0, description="delete audit records after N days (≈ 5 years; 0: keep)"
    )
    retention_interval_hours: float = Field(
        default=24.0, gt=0, description="how often a running node purges (retention)"
    )

    # online applications (municipal_node/applications): the LIFF form
    liff_sdk_url: str = Field(
        default="https://static.line-scdn.net/liff/edge/2/sdk.js",
        description="where the application page loads the LIFF SDK from (the LINE sandbox "
        "serves one at <sandbox>/liff/edge/2/sdk.js)",
    )
    liff_url_base: str = Field(
        default="https://liff.line.me",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="LIFF URLs the click counter sends residents to: "
        "<base>/<LIFF ID>/campaigns/<id> opens the form in LINE's LIFF browser, logged in "
        "(the LINE sandbox serves them at <sandbox>/liff-url)",
    )
    liff_verify_timeout_seconds: float = Field(
        default=10.0, gt=0, description="timeout of LINE Login's ID token verification"
    )

    # scheduler (municipal_node/scheduler): campaign phases, recurring notices, date triggers
    scheduler_catch_up_hours: float = Field(
        default=24.0,
        ge=0,
        description="a task due while the node was down is still run when it is at most this "
        "many hours late; older ones are reported missed (監査記録・警告) and not run",
    )
    scheduler_retry_attempts: int = Field(
        default=8, ge=1, le=1000, description="tries of a failing scheduled task before it fails"
    )
    scheduler_backoff_base_seconds: float = Field(
        default=60.0, gt=0, description="delay before the first retry of a failing task (doubles)"
    )
    scheduler_backoff_cap_seconds: float = Field(
        default=3600.0, gt=0, description="largest delay between two tries of a failing task"
    )

    # delivery reports to the hub (municipal_node/reports) and campaign KPIs
    report_interval_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="how often a running node submits changed delivery reports to the hub",
    )
    report_horizon_days: int = Field(
        default=45,
        ge=1,
        le=400,
        description="report sends created within the last N days (LINE insight covers 30)",
    )

    clock_file: Path | None = Field(
        default=None,
        description="the demo's simulated clock: a JSON file {at, since} (municipal_node/clock.py "
        "FileClock); never set in production",
    )

    @model_validator(mode="after")
    def _backoff_cap_above_base(self) -> NodeSettings:
        if self.hub_backoff_cap_seconds < self.hub_backoff_base_seconds:
            raise ValueError("hub_backoff_cap_seconds must be ≥ hub_backoff_base_seconds")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> NodeSettings:
        if self.dispatch_lease_seconds <= self.line_timeout_seconds:
            raise ValueError("dispatch_lease_seconds must be > line_timeout_seconds")
        return self

    @field_validator("line_multicast_rate_by_tenant")
    @classmethod
    def _rates_positive(cls, value: dict[str, float]) -> dict[str, float]:
        for code, rate in value.items():
            if not 0 < rate <= 2000:
                raise ValueError(f"line_multicast_rate_by_tenant[{code}] must be in (0, 2000]")
        return value

    def multicast_rate_for(self, tenant_code: str) -> float:
        """Multicast requests/s for this tenant's channel, all sending processes together."""
        return self.line_multicast_rate_by_tenant.get(tenant_code, self.line_multicast_rate)

    @field_validator("encryption_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr) -> SecretStr:
        decode_key(value.get_secret_value())
        return value

    def key_bytes(self) -> bytes:
        return decode_key(self.encryption_key.get_secret_value())

    @field_validator("previous_encryption_keys")
    @classmethod
    def _previous_keys_are_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _split_keys(value.get_secret_value())
        return value

    def previous_key_bytes(self) -> list[bytes]:
        """Earlier keys still configured during a rotation (as listed)."""
        if self.previous_encryption_keys is None:
            return []
        return _split_keys(self.previous_encryption_keys.get_secret_value())

    def sealer(self) -> Sealer:
        """Seals with the current key, opens with the current and the previous ones."""
        return Sealer(self.key_bytes(), self.previous_key_bytes())


def _split_keys(text: str) -> list[bytes]:
    try:
        return [decode_key(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"previous_encryption_keys: {exc}") from exc


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
