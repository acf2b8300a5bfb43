from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts.ids import MUNICIPALITY_CODE_RE

__all__ = ["MUNICIPALITY_CODE_RE", "RootKey", "TenantConfig", "TenantError"]


class TenantError(Exception):
    """Bad tenant configuration; ``code`` is machine-readable, the message bilingual."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RootKey:
    kid: str
    jwk: dict[str, Any]
    public_key: Ed25519PublicKey


@dataclass(frozen=True)
class TenantConfig:
    """A tenant with its secrets opened, for workers and the webhook."""

    code: str
    name: str
    hub_url: str
    root_keys: tuple[RootKey, ...]
    line_channel_secret: str
    line_access_token: str
    line_api_base_url: str
    #: the hub's subscriber credential (None while not configured); never logged
    hub_credential: str | None = field(default=None, repr=False)
    #: raw 32-byte Ed25519 private key for signed reports (None while not generated)
    node_private_key: bytes | None = field(default=None, repr=False)
    node_kid: str | None = None
    liff_id: str | None = None
    login_channel_id: str | None = None
    public_base_url: str | None = None

    def root_key_map(self) -> dict[str, Ed25519PublicKey]:
        return {key.kid: key.public_key for key in self.root_keys}
