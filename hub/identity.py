"""The hub's identity: its id and the root key that signs key sets and receipts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.ids import HUB_KID_RE
from contracts.jws import SignedEnvelope, sign
from contracts.keys import load_private_key_pem, public_jwk
from hub.settings import HubSettings, SettingsError


@dataclass(frozen=True)
class HubIdentity:
    hub_id: str
    root_kid: str
    root_key: Ed25519PrivateKey

    @classmethod
    def load(cls, settings: HubSettings) -> HubIdentity:
        """Read the root key named by the settings; ``SettingsError`` with a clear message."""
        hub_id = settings.require_hub_id()
        path = settings.require_root_key_file()
        root_kid = settings.root_kid
        if HUB_KID_RE.fullmatch(root_kid) is None:
            raise SettingsError(f"root key id {root_kid!r} is not a valid hub kid")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SettingsError(
                f"ルート鍵ファイルを読めません / cannot read root key file {path}: {exc.strerror}"
            ) from exc
        try:
            key = load_private_key_pem(data)
        except (ValueError, TypeError) as exc:
            raise SettingsError(
                f"{path}: Ed25519 の秘密鍵 (PEM) ではありません / not an Ed25519 private key (PEM)"
            ) from exc
        return cls(hub_id=hub_id, root_kid=root_kid, root_key=key)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.root_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.root_key)

    def sign(self, payload: Mapping[str, Any], *, typ: str) -> SignedEnvelope:
        return sign(payload, typ=typ, kid=self.root_kid, private_key=self.root_key)
