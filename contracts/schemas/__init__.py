"""JSON Schemas (draft 2020-12) of the wire objects, generated from the pydantic models.

``python -m contracts.schemas`` rewrites ``contracts/schemas/*.schema.json``;
``python -m contracts.schemas --check`` exits 1 if any file is stale. The schemas describe
structure and formats; rules across members (e.g. ``effective < expires``, suppression) are
only in the models and are stated in each schema's ``description``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts.jws import SignedEnvelope
from contracts.keyset import KeySet
from contracts.notice import Notice
from contracts.receipt import Receipt
from contracts.report import Report

SCHEMA_DIR = Path(__file__).resolve().parent
DIALECT = "https://json-schema.org/draft/2020-12/schema"
MODELS: dict[str, type[BaseModel]] = {
    "envelope": SignedEnvelope,
    "keyset": KeySet,
    "notice": Notice,
    "receipt": Receipt,
    "report": Report,
}


def build_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": DIALECT, **schema}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files() -> dict[str, str]:
    """File name -> exact file text."""
    return {f"{name}.schema.json": render(build_schema(model)) for name, model in MODELS.items()}


def stale_files(directory: Path = SCHEMA_DIR) -> list[str]:
    return [
        name
        for name, text in expected_files().items()
        if not (directory / name).is_file() or (directory / name).read_text("utf-8") != text
    ]


def write_files(directory: Path = SCHEMA_DIR) -> list[str]:
    written = []
    for name, text in expected_files().items():
        path = directory / name
        if not path.is_file() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            written.append(name)
    return written
