"""Rich menus, as the Messaging API serves them (the endpoints ``line-bot-sdk`` calls).

``POST /v2/bot/richmenu`` (+ ``/validate``), ``GET /v2/bot/richmenu/list``,
``GET``/``DELETE /v2/bot/richmenu/{richMenuId}``, the image on the data API path
(``POST``/``GET /v2/bot/richmenu/{richMenuId}/content``), and the default menu
(``POST /v2/bot/user/all/richmenu/{richMenuId}``, ``GET``/``DELETE /v2/bot/user/all/richmenu``).

Rules coded from LINE's documentation: size width 800–2500, height ≥ 250, width/height ≥ 1.45;
``selected`` boolean; ``name`` 1–300 and ``chatBarText`` 1–14 characters; at most 20 areas,
each inside the menu, each with an action; an image (PNG or JPEG, ≤ 1 MB, the menu's size)
can be uploaded once and is required before the menu can be the default; 1000 menus a channel.
The admin call ``POST /sandbox/channels/{name}/richmenu/tap`` makes a simulated resident tap an
area of the default menu (a postback or message webhook, like the LINE app sends).
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from line_sandbox.admin import webhook_summary
from line_sandbox.channels import AdminError, get_channel, resolve_users, send_user_event
from line_sandbox.errors import NOT_FOUND, Detail, LineApiError, body_errors, invalid_property
from line_sandbox.pipeline import CallContext, Handler, Outcome, authenticate, run_call
from line_sandbox.store import SandboxState

MAX_MENUS = 1000
MAX_AREAS = 20
MAX_IMAGE_BYTES = 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg")
ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "richmenuswitch",
    "camera",
    "cameraRoll",
    "location",
    "clipboard",
)
NO_IMAGE = "must upload richmenu image before applying it to user"
IMAGE_EXISTS = "An image has already been uploaded to the richmenu"
NO_DEFAULT = "no default richmenu"


@dataclass
class StoredMenu:
    menu: dict[str, Any]  # the rich menu object as created (with its richMenuId)
    image: bytes | None = None
    content_type: str | None = None


@dataclass
class ChannelMenus:
    menus: dict[str, StoredMenu] = field(default_factory=dict)
    default: str | None = None


@dataclass
class RichMenuStore:
    """Rich menus of every channel (lives on ``app.state.rich_menus``)."""

    channels: dict[str, ChannelMenus] = field(default_factory=dict)

    def of(self, channel: str) -> ChannelMenus:
        return self.channels.setdefault(channel, ChannelMenus())


# --- validation ---------------------------------------------------------------------------


def _int(value: Any, prop: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_property(prop)
    return value


def _text(details: list[Detail], value: Any, prop: str, maximum: int, *, required: bool) -> None:
    if value is None or value == "":
        if required:
            details.append(Detail("May not be empty", prop))
        return
    if not isinstance(value, str):
        raise invalid_property(prop)
    if len(value) > maximum:
        details.append(Detail(f"Length must be between 0 and {maximum}", prop))


def _size(details: list[Detail], body: dict[str, Any]) -> tuple[int, int] | None:
    size = body.get("size")
    if size is None:
        details.append(Detail("May not be null", "size"))
        return None
    if not isinstance(size, dict):
        raise invalid_property("size")
    width, height = _int(size.get("width"), "size.width"), _int(size.get("height"), "size.height")
    ok = True
    if not 800 <= width <= 2500:
        details.append(Detail("Must be between 800 and 2500", "size.width"))
        ok = False
    if height < 250:
        details.append(Detail("Must be at least 250", "size.height"))
        ok = False
    if ok and width / height < 1.45:
        details.append(Detail("The aspect ratio (width / height) must be at least 1.45", "size"))
        ok = False
    return (width, height) if ok else None


def _action(details: list[Detail], action: Any, prop: str) -> None:
    if action is None:
        details.append(Detail("May not be null", prop))
        return
    if not isinstance(action, dict):
        raise invalid_property(prop)
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        details.append(
            Detail(
                f"Must be one of the following values: [{', '.join(ACTION_TYPES)}]", f"{prop}.type"
            )
        )
        return
    _text(details, action.get("label"), f"{prop}.label", 20, required=False)
    if kind == "postback":
        _text(details, action.get("data"), f"{prop}.data", 300, required=True)
        _text(details, action.get("displayText"), f"{prop}.displayText", 300, required=False)
    elif kind == "message":
        _text(details, action.get("text"), f"{prop}.text", 300, required=True)
    elif kind == "uri":
        _text(details, action.get("uri"), f"{prop}.uri", 1000, required=True)
        uri = action.get("uri")
        if (
            isinstance(uri, str)
            and uri
            and uri.split(":", 1)[0] not in ("http", "https", "line", "tel")
        ):
            details.append(Detail("Must be a valid URI (http, https, line, tel)", f"{prop}.uri"))


def _areas(details: list[Detail], body: dict[str, Any], size: tuple[int, int] | None) -> None:
    areas = body.get("areas")
    if areas is None:
        details.append(Detail("May not be null", "areas"))
        return
    if not isinstance(areas, list):
        raise invalid_property("areas")
    if len(areas) > MAX_AREAS:
        details.append(Detail(f"Size must be between 0 and {MAX_AREAS}", "areas"))
        return
    for i, area in enumerate(areas):
        prop = f"areas[{i}]"
        if not isinstance(area, dict):
            raise invalid_property(prop)
        bounds = area.get("bounds")
        if bounds is None:
            details.append(Detail("May not be null", f"{prop}.bounds"))
        elif not isinstance(bounds, dict):
            raise invalid_property(f"{prop}.bounds")
        else:
            x, y = (
                _int(bounds.get("x"), f"{prop}.bounds.x"),
                _int(bounds.get("y"), f"{prop}.bounds.y"),
            )
            w = _int(bounds.get("width"), f"{prop}.bounds.width")
            h = _int(bounds.get("height"), f"{prop}.bounds.height")
            if x < 0 or y < 0 or w < 1 or h < 1:
                details.append(Detail("Must be a positive area", f"{prop}.bounds"))
            elif size is not None and (x + w > size[0] or y + h > size[1]):
                details.append(Detail("Must be within the rich menu size", f"{prop}.bounds"))
        _action(details, area.get("action"), f"{prop}.action")


def validate_menu(body: Any) -> dict[str, Any]:
    """The rich menu object, checked; raises LINE's 400 otherwise."""
    if not isinstance(body, dict):
        raise invalid_property("")
    details: list[Detail] = []
    size = _size(details, body)
    selected = body.get("selected")
    if selected is None:
        details.append(Detail("May not be null", "selected"))
    elif not isinstance(selected, bool):
        raise invalid_property("selected")
    _text(details, body.get("name"), "name", 300, required=True)
    _text(details, body.get("chatBarText"), "chatBarText", 14, required=True)
    _areas(details, body, size)
    if details:
        raise body_errors(details)
    return {
        "size": body["size"],
        "selected": selected,
        "name": body["name"],
        "chatBarText": body["chatBarText"],
        "areas": body["areas"],
    }


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(content type, width, height) of a PNG or JPEG, read from its header; None otherwise."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return "image/jpeg", width, height
            i += 2 + length
    return None


# --- handlers -----------------------------------------------------------------------------


def _menus(request: Request) -> RichMenuStore:
    store: RichMenuStore = request.app.state.rich_menus
    return store


def _menu_id(ctx: CallContext) -> str:
    return ctx.path_params.get("rich_menu_id", "")


def _handlers(store: RichMenuStore) -> dict[str, Handler]:
    def create(ctx: CallContext) -> Outcome:
        menu = validate_menu(ctx.body)
        menus = store.of(ctx.channel.name)
        if len(menus.menus) >= MAX_MENUS:
            raise LineApiError(400, f"The maximum number of rich menus ({MAX_MENUS}) is reached")
        menu_id = f"richmenu-{secrets.token_hex(16)}"
        menus.menus[menu_id] = StoredMenu({"richMenuId": menu_id, **menu})
        return Outcome(200, {"richMenuId": menu_id})

    def validate(ctx: CallContext) -> Outcome:
        validate_menu(ctx.body)
        return Outcome(200, {})

    def listing(ctx: CallContext) -> Outcome:
        menus = store.of(ctx.channel.name).menus.values()
        return Outcome(200, {"richmenus": [m.menu for m in menus]})

    def get(ctx: CallContext) -> Outcome:
        stored = store.of(ctx.channel.name).menus.get(_menu_id(ctx))
        if stored is None:
            raise LineApiError(404, NOT_FOUND)
        return Outcome(200, stored.menu)

    def delete(ctx: CallContext) -> Outcome:
        menus = store.of(ctx.channel.name)
        if menus.menus.pop(_menu_id(ctx), None) is None:
            raise LineApiError(404, NOT_FOUND)
        if menus.default == _menu_id(ctx):
            menus.default = None
        return Outcome(200, {})

    def set_default(ctx: CallContext) -> Outcome:
        menus = store.of(ctx.channel.name)
        stored = menus.menus.get(_menu_id(ctx))
        if stored is None:
            raise LineApiError(404, NOT_FOUND)
        if stored.image is None:
            raise LineApiError(400, NO_IMAGE)
        menus.default = _menu_id(ctx)
        return Outcome(200, {})

    def get_default(ctx: CallContext) -> Outcome:
        default = store.of(ctx.channel.name).default
        if default is None:
            raise LineApiError(404, NO_DEFAULT)
        return Outcome(200, {"richMenuId": default})

    def cancel_default(ctx: CallContext) -> Outcome:
        store.of(ctx.channel.name).default = None
        return Outcome(200, {})

    return {
        "create": create,
        "validate": validate,
        "list": listing,
        "get": get,
        "delete": delete,
        "set_default": set_default,
        "get_default": get_default,
        "cancel_default": cancel_default,
    }


def _upload_handler(store: RichMenuStore, data: bytes, content_type: str) -> Handler:
    def upload(ctx: CallContext) -> Outcome:
        stored = store.of(ctx.channel.name).menus.get(_menu_id(ctx))
        if stored is None:
            raise LineApiError(404, NOT_FOUND)
        if content_type not in IMAGE_TYPES:
            raise LineApiError(415, "Unsupported Media Type (image/png or image/jpeg)")
        if len(data) > MAX_IMAGE_BYTES:
            raise LineApiError(400, "The image must be 1 MB or smaller")
        found = image_size(data)
        if found is None or found[0] != content_type:
            raise LineApiError(
                400, f"The image is not a valid {content_type.split('/')[1].upper()}"
            )
        size = stored.menu["size"]
        if (found[1], found[2]) != (size["width"], size["height"]):
            raise LineApiError(
                400,
                f"The image size {found[1]}x{found[2]} must match the rich menu size "
                f"{size['width']}x{size['height']}",
            )
        if stored.image is not None:
            raise LineApiError(400, IMAGE_EXISTS)
        stored.image, stored.content_type = data, content_type
        return Outcome(200, {})

    return upload


class TapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str
    area: int = Field(ge=0, lt=MAX_AREAS)


def build_router() -> APIRouter:
    router = APIRouter()

    def route(method: str, path: str, endpoint: str, name: str, has_body: bool) -> None:
        async def call(request: Request) -> Response:
            handler = _handlers(_menus(request))[name]
            return await run_call(request, endpoint, handler, has_body=has_body)

        router.add_api_route(path, call, methods=[method], include_in_schema=False)

    # fixed paths before the ones with a {richMenuId}
    route("POST", "/v2/bot/richmenu", "richmenu_create", "create", True)
    route("POST", "/v2/bot/richmenu/validate", "richmenu_validate", "validate", True)
    route("GET", "/v2/bot/richmenu/list", "richmenu_list", "list", False)
    route("GET", "/v2/bot/user/all/richmenu", "richmenu_default", "get_default", False)
    route("DELETE", "/v2/bot/user/all/richmenu", "richmenu_default", "cancel_default", False)
    route(
        "POST", "/v2/bot/user/all/richmenu/{rich_menu_id}", "richmenu_default", "set_default", False
    )

    @router.post("/v2/bot/richmenu/{rich_menu_id}/content", include_in_schema=False)
    async def upload(request: Request) -> Response:
        data = await request.body()  # cached: the pipeline reads it again for its checks
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        handler = _upload_handler(_menus(request), data, content_type)
        return await run_call(request, "richmenu_content", handler, has_body=False)

    @router.get("/v2/bot/richmenu/{rich_menu_id}/content", include_in_schema=False)
    async def download(rich_menu_id: str, request: Request) -> Response:
        state: SandboxState = request.app.state.sandbox
        try:
            channel = authenticate(state, request.headers.get("authorization"))
            stored = _menus(request).of(channel.name).menus.get(rich_menu_id)
            if stored is None or stored.image is None:
                raise LineApiError(404, NOT_FOUND)
        except LineApiError as err:
            return JSONResponse(err.body(), status_code=err.status)
        return Response(stored.image, media_type=stored.content_type)

    route("GET", "/v2/bot/richmenu/{rich_menu_id}", "richmenu_get", "get", False)
    route("DELETE", "/v2/bot/richmenu/{rich_menu_id}", "richmenu_delete", "delete", False)

    @router.post("/sandbox/channels/{name}/richmenu/tap")
    async def tap(name: str, body: TapIn, request: Request) -> dict[str, Any]:
        state: SandboxState = request.app.state.sandbox
        channel = get_channel(state, name)
        index = resolve_users(channel, [body.user_id], everyone=False)[0]
        menus = _menus(request).of(channel.name)
        stored = menus.menus.get(menus.default or "")
        if stored is None:
            raise AdminError(
                404,
                "no_default_richmenu",
                "既定のリッチメニューがありません / no default rich menu",
            )
        areas = stored.menu["areas"]
        if body.area >= len(areas):
            raise AdminError(
                404, "no_such_area", f"領域 {body.area} はありません / no area {body.area}"
            )
        action = areas[body.area]["action"]
        if action["type"] == "postback":
            results = await send_user_event(
                state, channel, index, "postback", {"postback": {"data": action["data"]}}
            )
        elif action["type"] == "message":
            message_id = state.next_message_id()
            message = {
                "id": message_id,
                "type": "text",
                "text": action["text"],
                "quoteToken": f"q{message_id}",
            }
            results = await send_user_event(state, channel, index, "message", {"message": message})
        else:
            raise AdminError(
                400,
                "unsupported_action",
                f"この操作はシミュレートできません / cannot simulate a {action['type']} tap",
            )
        return webhook_summary(1, results)

    return router
