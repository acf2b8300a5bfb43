from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from municipal_node.db.base import Base, UTCDateTime


class Tenant(Base):
    """One municipality served by this node."""

    __tablename__ = "tenants"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    hub_url: Mapped[str] = mapped_column(String(2000))
    #: pinned hub root public keys: [{"kid": "hub-x/label", "jwk": {...}}, ...]
    hub_root_keys: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    line_channel_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    line_access_token_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    line_api_base_url: Mapped[str] = mapped_column(String(2000))
    #: the subscriber credential the hub issued for this municipality (sealed); None = not set
    hub_credential_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    #: this municipality's Ed25519 key for signed reports to the hub (sealed 32-byte private
    #: key; its public JWK is registered at the hub as the subscriber's ``node_jwk``)
    node_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    node_kid: Mapped[str | None] = mapped_column(String(128), default=None)
    #: LIFF app of the online application form: LIFF ID and the LINE Login channel id the ID
    #: token's ``aud`` must equal
    liff_id: Mapped[str | None] = mapped_column(String(64), default=None)
    login_channel_id: Mapped[str | None] = mapped_column(String(32), default=None)
    #: how residents reach this node (links in messages, the application page), e.g.
    #: ``https://todoke.example.lg.jp``; None = not configured (no form button is sent)
    public_base_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    #: highest hub seq consumed (stored, rejected or not for us)
    feed_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
