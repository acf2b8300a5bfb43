"""``todoke hub add-subscriber | suspend-subscriber | resume-subscriber |
rotate-subscriber-credential | list-subscribers``, and that the credential they print opens the
feed of a real hub."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from contracts.keys import public_jwk
from hub.settings import HubSettings
from hub.state import HubState
from tests.hub.conftest import LiveServer
from tests.hub.helpers import CFA_KEY, FEED, bearer
from todoke.commands.hub import hub_group


@pytest.fixture
def env(settings: HubSettings) -> dict[str, str]:
    return {
        "TODOKE_HUB_DATABASE_URL": settings.database_url,
        "TODOKE_HUB_HUB_ID": "aichi",
        "TODOKE_HUB_ROOT_KEY_FILE": str(settings.root_key_file),
    }


def hub(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(hub_group, list(args), env=env, catch_exceptions=False)


def feed_errors(url: str, credential: str) -> list[dict[str, object]] | None:
    body = httpx.post(
        f"{url}/graphql",
        json={"query": FEED, "variables": {"after": 0, "first": 10}},
        headers=bearer(credential),
        timeout=30,
    ).json()
    errors: list[dict[str, object]] | None = body.get("errors")
    return errors


def test_credential_printed_once_opens_the_feed_until_suspended(
    env: dict[str, str], live_hub: tuple[LiveServer, HubState]
) -> None:
    server, _ = live_hub
    added = hub(env, "add-subscriber", "--municipality", "23235", "--name", "弥富市")
    assert added.exit_code == 0, added.output
    printed = json.loads(added.output)
    assert set(printed) == {"municipality", "credential"}
    assert printed["municipality"] == "23235"
    credential = printed["credential"]
    assert feed_errors(server.url, credential) is None

    listed = hub(env, "list-subscribers")
    assert "23235  弥富市  [有効 active]" in listed.output
    assert credential not in listed.output

    suspended = hub(env, "suspend-subscriber", "--municipality", "23235")
    assert suspended.exit_code == 0 and "停止中 suspended" in suspended.output
    [error] = feed_errors(server.url, credential) or []
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}

    assert hub(env, "resume-subscriber", "--municipality", "23235").exit_code == 0
    assert feed_errors(server.url, credential) is None

    rotated = hub(env, "rotate-subscriber-credential", "--municipality", "23235")
    fresh = json.loads(rotated.output)["credential"]
    assert fresh != credential
    assert feed_errors(server.url, fresh) is None
    assert feed_errors(server.url, credential) is not None


def test_node_public_key_inline_or_file_and_refusals(env: dict[str, str], tmp_path: Path) -> None:
    jwk_file = tmp_path / "node.jwk.json"
    jwk_file.write_text(json.dumps(public_jwk(CFA_KEY)), "utf-8")
    ok = hub(
        env, "add-subscriber", "--municipality", "23100", "--name", "名古屋市",
        "--node-public-key", str(jwk_file),
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "report key: yes" in hub(env, "list-subscribers").output

    again = hub(env, "add-subscriber", "--municipality", "23100", "--name", "名古屋市")
    assert again.exit_code != 0 and "already exists" in again.output
    bad_code = hub(env, "add-subscriber", "--municipality", "2310", "--name", "x")
    assert bad_code.exit_code != 0 and "municipality code" in bad_code.output
    bad_key = hub(
        env, "add-subscriber", "--municipality", "23235", "--name", "弥富市",
        "--node-public-key", '{"kty": "OKP", "crv": "Ed25519", "x": "short"}',
    )  # fmt: skip
    assert bad_key.exit_code != 0 and "JWK" in bad_key.output
    unknown = hub(env, "suspend-subscriber", "--municipality", "13101")
    assert unknown.exit_code != 0 and "no subscriber" in unknown.output
    assert "23235" not in hub(env, "list-subscribers").output


def test_a_node_key_is_registered_later_or_replaced_and_bad_input_changes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A subscriber added before its node had a report key (or whose node rotated it) gets
    the key with ``set-subscriber-node-key``."""
    added = hub(env, "add-subscriber", "--municipality", "23235", "--name", "弥富市")
    assert added.exit_code == 0, added.output
    assert "23235  弥富市  [有効 active]  report key: none" in hub(env, "list-subscribers").output
    key = json.dumps(public_jwk(CFA_KEY))
    bad = hub(env, "set-subscriber-node-key", "--municipality", "23235",
              "--node-public-key", '{"kty": "OKP", "crv": "Ed25519", "x": "short"}')  # fmt: skip
    assert bad.exit_code != 0 and "JWK" in bad.output
    unknown = hub(env, "set-subscriber-node-key", "--municipality", "13101",
                  "--node-public-key", key)  # fmt: skip
    assert unknown.exit_code != 0 and "no subscriber" in unknown.output
    assert "report key: none" in hub(env, "list-subscribers").output
    done = hub(env, "set-subscriber-node-key", "--municipality", "23235", "--node-public-key", key)
    assert done.exit_code == 0, done.output
    assert "report key registered" in done.output
    assert "23235  弥富市  [有効 active]  report key: yes" in hub(env, "list-subscribers").output
