"""Validate sandbox exchanges (records of ``GET /sandbox/exchanges``) against LINE's OpenAPI.

``validate_exchange(spec_path, exchange)`` checks the request the client sent and the response
the sandbox gave with openapi-core. Statuses an operation does not document (LINE does not list
401/413/429 everywhere) are checked against ``#/components/schemas/ErrorResponse`` instead.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from openapi_core import OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

HOST = "https://api.line.me"


class ContractViolation(AssertionError):
    pass


@lru_cache(maxsize=4)
def _openapi(spec_path: str) -> OpenAPI:
    return OpenAPI.from_file_path(spec_path)


@lru_cache(maxsize=4)
def _raw_spec(spec_path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(Path(spec_path).read_text(encoding="utf-8"))
    return loaded


def _error_schema_validator(spec_path: str) -> OAS30Validator:
    raw = _raw_spec(spec_path)
    schema = dict(raw["components"]["schemas"]["ErrorResponse"])
    schema["components"] = raw["components"]
    return OAS30Validator(schema)


def _content_type(headers: dict[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";")[0].strip()
    return None


def _request(exchange: dict[str, Any]) -> MockRequest:
    headers = dict(exchange["request_headers"])
    body = exchange.get("request_body") or ""
    return MockRequest(
        HOST,
        exchange["method"],
        exchange["path"],
        args=dict(parse_qsl(exchange.get("query") or "", keep_blank_values=True)),
        headers=headers,
        data=body.encode("utf-8") if body else None,
        content_type=_content_type(headers) or "application/json",
    )


def validate_exchange(spec_path: str | Path, exchange: dict[str, Any]) -> None:
    """Raise ``ContractViolation`` (an AssertionError) when the exchange breaks the spec.

    The request is validated only when the sandbox accepted it (2xx): rejected requests are
    often deliberately invalid. The response is always validated.
    """
    spec = str(spec_path)
    openapi = _openapi(spec)
    request = _request(exchange)
    status = int(exchange["status"])
    where = f"{exchange['method']} {exchange['path']} → {status}"
    if exchange.get("request_body_truncated") or exchange.get("response_body_truncated"):
        raise ContractViolation(f"{where}: body truncated in the exchange log; cannot validate")
    if 200 <= status < 300:
        result = openapi.unmarshal_request(request)
        if result.errors:
            raise ContractViolation(f"{where}: request: {result.errors}")
    headers = exchange["response_headers"]
    body = exchange.get("response_body") or ""
    response = MockResponse(
        body.encode("utf-8"),
        status_code=status,
        headers=headers,
        content_type=_content_type(headers) or "application/json",
    )
    try:
        openapi.validate_response(request, response)
    except ResponseNotFound:
        if status < 400:
            raise ContractViolation(f"{where}: status not documented by the spec") from None
        errors = list(_error_schema_validator(spec).iter_errors(json.loads(body)))
        if errors:
            raise ContractViolation(f"{where}: error body: {errors[0].message}") from None
    except Exception as exc:
        raise ContractViolation(f"{where}: response: {exc}") from exc


__all__ = ["ContractViolation", "validate_exchange"]
