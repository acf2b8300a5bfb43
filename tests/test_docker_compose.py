"""docker-compose.yml stays valid against the Compose Specification (no Docker engine runs here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_validates_against_the_compose_spec(shared_dir: Path) -> None:
    schema = json.loads((shared_dir / "compose-spec" / "compose-spec.json").read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_compose_services_wait_for_healthy_dependencies() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "hub", "node", "sandbox"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    assert services["hub"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    node_deps = services["node"]["depends_on"]
    assert {dep: spec["condition"] for dep, spec in node_deps.items()} == {
        "postgres": "service_healthy",
        "hub": "service_healthy",
        "sandbox": "service_healthy",
    }


def test_compose_file_has_no_working_default_secrets() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for variable in (
        "TODOKE_POSTGRES_PASSWORD",
        "TODOKE_NODE_ENCRYPTION_KEY",
        "TODOKE_NODE_ADMIN_TOKEN",
    ):
        assert f"${{{variable}:?" in text, f"{variable} must be required, not defaulted"


def test_compose_spec_check_catches_a_misspelt_key(shared_dir: Path) -> None:
    schema = json.loads((shared_dir / "compose-spec" / "compose-spec.json").read_text("utf-8"))
    broken = _compose()
    broken["services"]["hub"]["dependson"] = ["postgres"]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken)) != []
