"""A whole federation as real processes: LINE sandbox, hub and node, each on a loopback port."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from todoke.commands.keys import write_private_key
from todoke.demo.processes import Service, run_cli, start_service

TENANT = "23235"
CHANNEL = "yatomi"


@dataclass
class Federation:
    workdir: Path
    hub_env: dict[str, str]
    node_env: dict[str, str]
    admin_token: str
    channel_secret: str
    channel_token: str
    sandbox: Service | None = None
    hub: Service | None = None
    node: Service | None = None
    services: list[Service] = field(default_factory=list)

    def key(self, name: str) -> Path:
        return self.workdir / "keys" / f"{name}.pem"

    def start(self, name: str) -> Service:
        env = {"hub": self.hub_env, "node": self.node_env, "sandbox": {}}[name]
        service = start_service(name, [name, "serve"], env=env, workdir=self.workdir)
        self.services.append(service)
        setattr(self, name, service)
        return service

    def node_status(self) -> list[dict[str, Any]]:
        assert self.node is not None
        response = httpx.get(
            f"{self.node.url}/api/tenants/{TENANT}/notices",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=30,
        )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def sandbox_get(self, path: str) -> Any:
        assert self.sandbox is not None
        response = httpx.get(f"{self.sandbox.url}{path}", timeout=60)
        response.raise_for_status()
        return response.json()

    def publish_file(self, publisher: str, notice: dict[str, Any]) -> str:
        assert self.hub is not None
        path = self.workdir / f"notice-{notice['notice_id']}.json"
        path.write_text(json.dumps(notice, ensure_ascii=False), "utf-8")
        result = run_cli(
            [
                "publish",
                str(path),
                "--key",
                str(self.key(publisher)),
                "--kid",
                f"{publisher}/t1",
                "--hub",
                self.hub.url,
            ],
            env={},
        )
        return result.stdout


@pytest.fixture
def federation(tmp_path: Path, database_url: str, second_database_url: str) -> Iterator[Federation]:
    """Keys made, publishers and the 弥富市 tenant registered; services not yet started."""
    (tmp_path / "keys").mkdir()
    for name in ("hub-root", "gov-cfa", "pref-23"):
        jwk = write_private_key(tmp_path / "keys" / f"{name}.pem")
        (tmp_path / "keys" / f"{name}.jwk.json").write_text(json.dumps(jwk), "utf-8")
    fed = Federation(
        workdir=tmp_path,
        hub_env={
            "TODOKE_HUB_DATABASE_URL": database_url,
            "TODOKE_HUB_HUB_ID": "aichi",
            "TODOKE_HUB_ROOT_KEY_FILE": str(tmp_path / "keys" / "hub-root.pem"),
            # these tests publish hundreds of notices from one address; the per-client
            # limits have their own tests (tests/hub/test_abuse_ratelimit.py)
            "TODOKE_HUB_RATE_PUBLISH_PER_SECOND": "10000",
            "TODOKE_HUB_RATE_PUBLISH_BURST": "10000",
        },
        node_env={
            "TODOKE_NODE_DATABASE_URL": second_database_url,
            "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "TODOKE_NODE_ADMIN_TOKEN": "e2e-admin-token",
            "TODOKE_NODE_POLL_INTERVAL_SECONDS": "0.2",
        },
        admin_token="e2e-admin-token",
        channel_secret=secrets.token_hex(16),
        channel_token=secrets.token_urlsafe(32),
    )
    run_cli(["hub", "migrate"], env=fed.hub_env)
    for publisher, area in (("gov-cfa", "00"), ("pref-23", "23")):
        run_cli(
            ["hub", "add-publisher", "--id", publisher, "--name", publisher, "--kid", f"{publisher}/t1",
             "--public-key", str(tmp_path / "keys" / f"{publisher}.jwk.json"),
             "--area", area, "--category", "benefit", "--category", "procedure", "--valid-days", "30"],
            env=fed.hub_env,
        )  # fmt: skip
    try:
        yield fed
    finally:
        for service in reversed(fed.services):
            service.stop(kill=True)


def register_subscriber(fed: Federation, municipality: str = TENANT, name: str = "弥富市") -> str:
    """``todoke hub add-subscriber``; the credential it printed once."""
    out = run_cli(
        ["hub", "add-subscriber", "--municipality", municipality, "--name", name], env=fed.hub_env
    ).stdout
    printed = json.loads(out)
    assert printed["municipality"] == municipality
    credential: str = printed["credential"]
    return credential


def connect_tenant(
    fed: Federation, residents_csv: Path, friends: int, unfollow: tuple[str, ...] = ()
) -> None:
    """Register the tenant, import residents, start the node, let ``friends`` users follow and
    the ``unfollow`` ones block the account again."""
    assert fed.hub is not None and fed.sandbox is not None
    root = run_cli(["hub", "root-key"], env=fed.hub_env).stdout.strip()
    (fed.workdir / "keys" / "hub-root.pub.json").write_text(root, "utf-8")
    credential = register_subscriber(fed)
    run_cli(["node", "migrate"], env=fed.node_env)
    run_cli(
        ["node", "add-tenant", "--code", TENANT, "--name", "弥富市", "--hub-url", fed.hub.url,
         "--hub-root-key", str(fed.workdir / "keys" / "hub-root.pub.json"),
         "--hub-credential", credential,
         "--line-channel-secret", fed.channel_secret, "--line-channel-token", fed.channel_token,
         "--line-api-base-url", fed.sandbox.url],
        env=fed.node_env,
    )  # fmt: skip
    run_cli(["node", "import-residents", "--tenant", TENANT, str(residents_csv)], env=fed.node_env)
    node = fed.node or fed.start("node")
    with httpx.Client(base_url=fed.sandbox.url, timeout=120) as client:
        client.post(
            "/sandbox/channels",
            json={
                "name": CHANNEL,
                "channel_secret": fed.channel_secret,
                "channel_access_token": fed.channel_token,
                "webhook_url": f"{node.url}/line/{TENANT}/webhook",
            },
        ).raise_for_status()
        client.post(
            f"/sandbox/channels/{CHANNEL}/friends", json={"count": friends}
        ).raise_for_status()
        client.post(f"/sandbox/channels/{CHANNEL}/follow", json={"all": True}).raise_for_status()
        if unfollow:
            client.post(
                f"/sandbox/channels/{CHANNEL}/unfollow", json={"user_ids": list(unfollow)}
            ).raise_for_status()
