"""``todoke node rotate-key`` through click against a real database: every sealed column of the
node is re-sealed under the new key, after which the old key can be removed."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit.models import AuditEntry
from municipal_node.crypto import Sealer, UnknownKeyError, key_id
from municipal_node.db.engine import create_engine, session_factory
from municipal_node.residents.models import Resident
from municipal_node.residents.schemas import open_attributes, resident_aad
from tests.municipal_node.helpers import (
    CHANNEL_SECRET,
    CHANNEL_TOKEN,
    TENANT,
    root_key_entry,
    write_csv,
)
from tests.municipal_node.privacy.rows import add_other_sealed_rows, open_everything
from todoke.commands.node import node_group

T = TypeVar("T")
KEY_A, KEY_B, KEY_C = bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34))
NOW = datetime(2026, 4, 1, tzinfo=UTC)
ROWS = [
    ("R001", "single_parent;child_rearing", "2019-04-01", "東町", "jido-fuyo-teate", ""),
    ("R002", "elderly", "", "西町", "", ""),
    ("R003", "", "", "", "", ""),
]


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def env(database_url: str, key: bytes, *previous: bytes) -> dict[str, str]:
    values = {"TODOKE_NODE_DATABASE_URL": database_url, "TODOKE_NODE_ENCRYPTION_KEY": b64(key)}
    if previous:
        values["TODOKE_NODE_PREVIOUS_ENCRYPTION_KEYS"] = ",".join(b64(k) for k in previous)
    return values


def run(environment: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(node_group, list(args), env=environment)


def with_db(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def v1_blob(key: bytes, plaintext: str, aad: str) -> bytes:
    """A blob as sealed before key rotation existed: 0x01 || nonce || ciphertext+tag."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), aad.encode())


@pytest.fixture
def populated(database_url: str, tmp_path: Path) -> str:
    """A tenant, three residents (one still in the old blob format) and a row of every other
    sealed table, all under KEY_A."""
    key_a = env(database_url, KEY_A)
    result = run(
        key_a,
        "add-tenant", "--code", TENANT, "--name", "弥富市", "--hub-url", "http://127.0.0.1:9",
        "--hub-root-key", json.dumps(root_key_entry()), "--line-channel-secret", CHANNEL_SECRET,
        "--line-channel-token", CHANNEL_TOKEN, "--hub-credential", "credential-0123456789abcdef",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    csv_file = write_csv(tmp_path / "r.csv", ROWS)
    assert run(key_a, "import-residents", "--tenant", TENANT, str(csv_file)).exit_code == 0

    async def more(session: AsyncSession) -> None:
        await add_other_sealed_rows(session, Sealer(KEY_A), NOW)
        legacy = v1_blob(
            KEY_A,
            '{"household":["elderly"],"child_birth_dates":[],"programs":[]}',
            resident_aad(TENANT, "R002"),
        )
        await session.execute(
            update(Resident).where(Resident.resident_id == "R002").values(sealed=legacy)
        )

    with_db(database_url, more)
    return str(csv_file)


def test_rotation_reseals_every_column_and_the_old_key_can_then_be_removed(
    database_url: str, populated: str
) -> None:
    # new key current, old key still configured: everything opens, under either key
    rotating = env(database_url, KEY_B, KEY_A)
    assert with_db(database_url, lambda s: open_everything(s, Sealer(KEY_B, [KEY_A]))) == 9
    result = run(rotating, "rotate-key", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert f"current key id: {key_id(KEY_B)}" in result.stderr
    for line in (
        "residents.sealed: 再暗号化 re-sealed 3, 残り remaining 0",
        "tenants.hub_credential_sealed: 再暗号化 re-sealed 1, 残り remaining 0",
        "tenants.line_channel_secret_sealed: 再暗号化 re-sealed 1, 残り remaining 0",
        "tenants.line_access_token_sealed: 再暗号化 re-sealed 1, 残り remaining 0",
        "friend_preferences.declared_sealed: 再暗号化 re-sealed 1, 残り remaining 0",
        "registration_codes.sealed: 再暗号化 re-sealed 1, 残り remaining 0",
        "outbox_batches.households_sealed: 再暗号化 re-sealed 1, 残り remaining 0",
    ):
        assert line in result.stdout
    assert "the previous key(s) can be removed" in result.stdout

    # the old key is gone from the configuration: everything still opens
    assert with_db(database_url, lambda s: open_everything(s, Sealer(KEY_B))) == 9
    new_only = env(database_url, KEY_B)
    again = run(new_only, "rotate-key")
    assert again.exit_code == 0 and "residents.sealed: 再暗号化 re-sealed 0" in again.stdout

    # the import digests were keyed by the old key: one full rewrite, then idempotent again
    first = run(new_only, "import-residents", "--tenant", TENANT, "--no-progress", populated)
    assert "更新 updated 3" in first.stdout
    second = run(new_only, "import-residents", "--tenant", TENANT, "--no-progress", populated)
    assert "新規 inserted 0, 更新 updated 0, 削除 removed 0" in second.stdout

    async def audit(session: AsyncSession) -> list[AuditEntry]:
        query = select(AuditEntry).where(AuditEntry.action == "privacy.rotate_key")
        return list(await session.scalars(query))

    entries = with_db(database_url, audit)
    assert [(e.actor, e.count) for e in entries] == [("cli", 9), ("cli", 0)]
    assert entries[0].detail["key_id"] == key_id(KEY_B)


def test_a_blob_under_an_unknown_key_is_named_not_crashed_on(
    database_url: str, populated: str
) -> None:
    stranger = Sealer(KEY_C)

    async def plant(session: AsyncSession) -> None:
        sealed = stranger.seal_text("{}", aad=resident_aad(TENANT, "R003"))
        await session.execute(
            update(Resident).where(Resident.resident_id == "R003").values(sealed=sealed)
        )

    with_db(database_url, plant)
    result = run(env(database_url, KEY_B, KEY_A), "rotate-key")
    assert result.exit_code == 1
    assert (
        f"residents.sealed: 再暗号化 re-sealed 2, 残り remaining 1; 鍵 ID {key_id(KEY_C)} が未設定"
        f" / key id {key_id(KEY_C)} not configured: 1"
    ) in result.stdout
    assert "do not remove the old key(s) yet" in result.output

    async def open_r003(session: AsyncSession) -> None:
        sealed = await session.scalar(select(Resident.sealed).where(Resident.resident_id == "R003"))
        assert sealed is not None
        open_attributes(Sealer(KEY_B), tenant_code=TENANT, resident_id="R003", sealed=sealed)

    with pytest.raises(UnknownKeyError, match=f"key id {key_id(KEY_C)}"):
        with_db(database_url, open_r003)


def test_rotation_refuses_a_misconfigured_previous_key(database_url: str, populated: str) -> None:
    broken = {**env(database_url, KEY_B), "TODOKE_NODE_PREVIOUS_ENCRYPTION_KEYS": "c2hvcnQ="}
    result = run(broken, "rotate-key")
    assert result.exit_code == 1
    assert "TODOKE_NODE_PREVIOUS_ENCRYPTION_KEYS" in result.output and "32 bytes" in result.output
