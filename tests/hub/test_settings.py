"""HubSettings: environment prefix, defaults and the limits it enforces."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.settings import HubSettings, SettingsError


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODOKE_HUB_HUB_ID", "aichi")
    monkeypatch.setenv("TODOKE_HUB_ROOT_KEY_FILE", "/keys/root.pem")
    monkeypatch.setenv("TODOKE_HUB_ROOT_KEY_LABEL", "2026a")
    settings = HubSettings()
    assert settings.database_url == "sqlite:///todoke-hub.db"
    assert settings.root_key_file == Path("/keys/root.pem")
    assert settings.root_kid == "hub-aichi/2026a"
    assert settings.keyset_validity_hours == 72


@pytest.mark.parametrize("hub_id", ["Aichi", "-aichi", "a" * 33, "ai chi"])
def test_bad_hub_id_is_refused(hub_id: str) -> None:
    with pytest.raises(ValidationError, match="hub id"):
        HubSettings(hub_id=hub_id)


def test_keyset_validity_is_at_most_a_week() -> None:
    assert HubSettings(keyset_validity_hours=168).keyset_validity_hours == 168
    with pytest.raises(ValidationError):
        HubSettings(keyset_validity_hours=169)


def test_serving_needs_hub_id_and_root_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TODOKE_HUB_HUB_ID", raising=False)
    monkeypatch.delenv("TODOKE_HUB_ROOT_KEY_FILE", raising=False)
    settings = HubSettings()
    with pytest.raises(SettingsError, match="TODOKE_HUB_HUB_ID"):
        settings.require_hub_id()
    with pytest.raises(SettingsError, match="TODOKE_HUB_ROOT_KEY_FILE"):
        settings.require_root_key_file()
