"""Errors of the segments and relay-rule APIs as JSON staff can read (Japanese first).

Every error of these routes has the shape the auth dependency uses:
``{"detail": {"code", "message", "errors"?}}``. ``ApiError`` is an ``HTTPException``, so it
travels through the request's unit of work (which rolls back: a refused request changes
nothing) to FastAPI's handler. Request validation errors become 422 in that shape through
``ApiRoute`` (a route class, so the app's other routers are not affected). Messages name the
field (``spec.household.0``) and say what is wrong in Japanese, then in English.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError


class ApiError(HTTPException):
    """An expected failure: machine-readable ``code``, bilingual ``message``, HTTP ``status``."""

    def __init__(
        self, code: str, message: str, status: int = 422, errors: list[dict[str, str]] | None = None
    ) -> None:
        body: dict[str, Any] = {"code": code, "message": message}
        if errors:
            body["errors"] = errors
        super().__init__(status_code=status, detail=body)
        self.code = code
        self.message = message
        self.errors = errors

    def __str__(self) -> str:
        return self.message

    def response(self) -> JSONResponse:
        return JSONResponse({"detail": self.detail}, status_code=self.status_code)


_JA: dict[str, str] = {
    "missing": "必須の項目です",
    "extra_forbidden": "この項目は使えません（項目名を確認してください）",
    "too_short": "{min_length}件以上必要です",
    "too_long": "{max_length}件以内にしてください",
    "string_too_short": "{min_length}文字以上必要です",
    "string_too_long": "{max_length}文字以内にしてください",
    "string_type": "文字列で指定してください",
    "string_pattern_mismatch": "形式が正しくありません",
    "enum": "使える値ではありません（使える値: {expected}）",
    "literal_error": "使える値ではありません（使える値: {expected}）",
    "int_type": "整数で指定してください",
    "int_parsing": "整数で指定してください",
    "int_from_float": "整数で指定してください",
    "bool_type": "true か false で指定してください",
    "bool_parsing": "true か false で指定してください",
    "list_type": "リスト（配列）で指定してください",
    "dict_type": "オブジェクトで指定してください",
    "model_type": "オブジェクトで指定してください",
    "model_attributes_type": "オブジェクトで指定してください",
    "json_invalid": "JSON として読めません",
    "json_type": "JSON で指定してください",
    "greater_than_equal": "{ge} 以上にしてください",
    "less_than_equal": "{le} 以下にしてください",
    "greater_than": "{gt} より大きくしてください",
    "less_than": "{lt} より小さくしてください",
}


def _where(loc: Sequence[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path"}:
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "$"


def _message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    text = str(error.get("msg", ""))
    if kind == "value_error":
        reason = text.removeprefix("Value error, ")
        return reason if " / " in reason else f"値が正しくありません / {reason}"
    template = _JA.get(kind)
    if template is None:
        return f"値が正しくありません / {text}"
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    try:
        ja = template.format(**context)
    except (KeyError, IndexError):
        ja = template.split("（")[0]
    return f"{ja} / {text}"


def describe(errors: Sequence[Any], *, prefix: str = "") -> list[dict[str, str]]:
    """``[{"field", "message"}]`` for pydantic / FastAPI errors."""
    described: list[dict[str, str]] = []
    for error in errors:
        where = _where(tuple(error.get("loc", ())))
        if prefix:
            where = prefix if where == "$" else f"{prefix}.{where}"
        described.append({"field": where, "message": _message(dict(error))})
    return described


def invalid(errors: list[dict[str, str]], *, code: str = "INVALID_INPUT") -> ApiError:
    first = errors[0] if errors else {"field": "$", "message": "入力が正しくありません / invalid"}
    more = f"（ほか{len(errors) - 1}件）" if len(errors) > 1 else ""
    return ApiError(
        code,
        f"入力に誤りがあります: {first['field']}: {first['message']}{more}",
        422,
        errors,
    )


def from_validation_error(
    exc: ValidationError, *, prefix: str = "", code: str = "INVALID_INPUT"
) -> ApiError:
    return invalid(
        describe(exc.errors(include_url=False, include_input=False), prefix=prefix), code=code
    )


class ApiRoute(APIRoute):
    """Renders request validation errors (422) in the shape described above."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return invalid(describe(exc.errors())).response()

        return handle
