"""Hub root key rotation at a node: ``todoke node pin-root-key`` / ``unpin-root-key``, and
receipts signed by any pinned root verify (docs/decisions/0003-root-key-rotation.md)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.errors import ContractError
from contracts.jws import TYP_RECEIPT, SignedEnvelope, sign
from contracts.keys import private_key_from_seed, public_jwk
from contracts.verify import verify_receipt
from municipal_node.crypto import Sealer
from municipal_node.db.engine import create_engine, session_factory
from municipal_node.tenants.service import load_config
from todoke.commands.node import node_group

OLD_ROOT = private_key_from_seed(bytes(32))
NEW_ROOT = private_key_from_seed(bytes(range(1, 33)))
OLD = {"kid": "hub-aichi/root1", "jwk": public_jwk(OLD_ROOT)}
NEW = {"kid": "hub-aichi/root2", "jwk": public_jwk(NEW_ROOT)}
KEY = bytes(range(32))


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {
        "TODOKE_NODE_DATABASE_URL": database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(KEY).decode(),
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(node_group, list(args), env=env, catch_exceptions=False)


def receipt_by(key: Ed25519PrivateKey, kid: str) -> SignedEnvelope:
    payload = {
        "schema": "todoke.receipt/1",
        "hub": "aichi",
        "seq": 1,
        "publisher": "gov-cfa",
        "notice_id": "01JQ0000000000000000000000",
        "digest": "0" * 64,
        "received_at": "2026-04-01T00:00:00Z",
    }
    return sign(payload, typ=TYP_RECEIPT, kid=kid, private_key=key)


def pinned_map(database_url: str) -> dict[str, Ed25519PublicKey]:
    return asyncio.run(_pinned_map(database_url))


async def _pinned_map(database_url: str) -> dict[str, Ed25519PublicKey]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            config = await load_config(session, "23235", sealer=Sealer(KEY))
    finally:
        await engine.dispose()
    assert config is not None
    return dict(config.root_key_map())


@pytest.fixture
def tenant(env: dict[str, str]) -> None:
    result = run(
        env,
        "add-tenant", "--code", "23235", "--name", "弥富市", "--hub-url", "http://127.0.0.1:8080",
        "--hub-root-key", json.dumps(OLD), "--line-channel-secret", "s",
        "--line-channel-token", "t", "--line-api-base-url", "http://127.0.0.1:8082",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_pin_new_root_then_unpin_old(env: dict[str, str], tenant: None, database_url: str) -> None:
    pinned = run(env, "pin-root-key", "--tenant", "23235", "--hub-root-key", json.dumps(NEW))
    assert pinned.exit_code == 0, pinned.output
    assert "hub-aichi/root1" in pinned.output and "hub-aichi/root2" in pinned.output
    again = run(env, "pin-root-key", "--tenant", "23235", "--hub-root-key", json.dumps(NEW))
    assert again.exit_code == 0  # idempotent
    conflict = {
        "kid": "hub-aichi/root2",
        "jwk": public_jwk(private_key_from_seed(bytes(range(2, 34)))),
    }
    refused = run(env, "pin-root-key", "--tenant", "23235", "--hub-root-key", json.dumps(conflict))
    assert refused.exit_code != 0
    assert "already pinned with another key" in refused.output

    # while both are pinned, receipts signed by either root verify
    roots = pinned_map(database_url)
    assert sorted(roots) == ["hub-aichi/root1", "hub-aichi/root2"]
    verify_receipt(receipt_by(OLD_ROOT, "hub-aichi/root1"), root_keys=roots)
    verify_receipt(receipt_by(NEW_ROOT, "hub-aichi/root2"), root_keys=roots)

    unpinned = run(env, "unpin-root-key", "--tenant", "23235", "--kid", "hub-aichi/root1")
    assert unpinned.exit_code == 0, unpinned.output
    roots = pinned_map(database_url)
    assert sorted(roots) == ["hub-aichi/root2"]
    with pytest.raises(ContractError):
        verify_receipt(receipt_by(OLD_ROOT, "hub-aichi/root1"), root_keys=roots)

    last = run(env, "unpin-root-key", "--tenant", "23235", "--kid", "hub-aichi/root2")
    assert last.exit_code != 0
    assert "last pinned hub root key" in last.output
    missing = run(env, "unpin-root-key", "--tenant", "23235", "--kid", "hub-aichi/root1")
    assert missing.exit_code != 0
    assert "is not pinned" in missing.output


def test_unknown_tenant_is_clear(env: dict[str, str], tenant: None) -> None:
    result = run(env, "pin-root-key", "--tenant", "99999", "--hub-root-key", json.dumps(NEW))
    assert result.exit_code != 0
    assert "no tenant 99999" in result.output
