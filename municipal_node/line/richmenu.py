"""The node's rich menu: 受信設定 / ID連携 / 配信停止・再開, with an image drawn in code.

The image is a 2500x843 PNG written with ``zlib`` only (no imaging library): three coloured
panels, each with a simple white pictogram (sliders, two linked rings, pause + play). The words
are in each area's action label and in the replies; LINE shows ``chatBarText`` under the chat.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    RichMenuRequest,
)

from municipal_node.line.postback import Action, Postback
from municipal_node.tenants.schemas import TenantConfig

WIDTH, HEIGHT = 2500, 843
NAME_PREFIX = "todoke:"
Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)


@dataclass(frozen=True)
class Panel:
    label: str
    postback: Postback
    color: Color


PANELS = (
    Panel("受信設定", Postback(Action.SETTINGS), (27, 127, 121)),
    Panel("ID連携", Postback(Action.LINK), (44, 90, 160)),
    Panel("配信停止・再開", Postback(Action.PAUSE), (181, 86, 28)),
)


def _bounds() -> list[tuple[int, int]]:
    """(x, width) of each panel; the last takes the rounding remainder."""
    width = WIDTH // len(PANELS)
    return [
        (i * width, width if i < len(PANELS) - 1 else WIDTH - i * width) for i in range(len(PANELS))
    ]


def menu_object(tenant_name: str) -> dict[str, Any]:
    """The rich menu object (camelCase JSON, as the API takes it)."""
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": f"{NAME_PREFIX}{tenant_name} 受信設定メニュー"[:300],
        "chatBarText": "メニュー",
        "areas": [
            {
                "bounds": {"x": x, "y": 0, "width": width, "height": HEIGHT},
                "action": {
                    "type": "postback",
                    "label": panel.label,
                    "data": panel.postback.data(),
                    "displayText": panel.label,
                },
            }
            for panel, (x, width) in zip(PANELS, _bounds(), strict=True)
        ],
    }


# --- the image ----------------------------------------------------------------------------

Span = Callable[[int], list[tuple[int, int]]]  # row y → [x0, x1) spans to paint white


def _rect(x0: int, y0: int, x1: int, y1: int) -> Span:
    return lambda y: [(x0, x1)] if y0 <= y < y1 else []


def _disc(cx: int, cy: int, r: int) -> Span:
    def spans(y: int) -> list[tuple[int, int]]:
        d = r * r - (y - cy) * (y - cy)
        if d < 0:
            return []
        half = int(math.sqrt(d))
        return [(cx - half, cx + half + 1)]

    return spans


def _ring(cx: int, cy: int, outer: int, inner: int) -> Span:
    def spans(y: int) -> list[tuple[int, int]]:
        dy = (y - cy) * (y - cy)
        if dy > outer * outer:
            return []
        a = int(math.sqrt(outer * outer - dy))
        if dy > inner * inner:
            return [(cx - a, cx + a + 1)]
        b = int(math.sqrt(inner * inner - dy))
        return [(cx - a, cx - b), (cx + b + 1, cx + a + 1)]

    return spans


def _play(x0: int, cy: int, height: int) -> Span:
    half = height // 2

    def spans(y: int) -> list[tuple[int, int]]:
        off = abs(y - cy)
        if off > half:
            return []
        return [(x0, x0 + int(height * 0.87 * (1 - off / half)) + 1)]

    return spans


def _pictograms(index: int, cx: int, cy: int) -> list[Span]:
    if index == 0:  # sliders
        shapes: list[Span] = []
        for row, knob in ((-120, -80), (0, 90), (120, -20)):
            shapes.append(_rect(cx - 190, cy + row - 12, cx + 190, cy + row + 12))
            shapes.append(_disc(cx + knob, cy + row, 42))
        return shapes
    if index == 1:  # two linked rings
        return [_ring(cx - 85, cy, 130, 92), _ring(cx + 85, cy, 130, 92)]
    return [  # pause + play
        _rect(cx - 200, cy - 130, cx - 140, cy + 130),
        _rect(cx - 100, cy - 130, cx - 40, cy + 130),
        _play(cx + 30, cy, 260),
    ]


def menu_image() -> bytes:
    """The menu image as PNG bytes (8-bit RGB, 2500x843)."""
    bounds = _bounds()
    background = bytearray()
    for panel, (_, width) in zip(PANELS, bounds, strict=True):
        background += bytes(panel.color) * width
    for x, _ in bounds[1:]:  # a light divider between panels
        background[3 * (x - 2) : 3 * (x + 2)] = bytes(WHITE) * 4
    shapes = [
        shape
        for i, (x, width) in enumerate(bounds)
        for shape in _pictograms(i, x + width // 2, HEIGHT // 2)
    ]
    raw = bytearray()
    for y in range(HEIGHT):
        row = bytearray(background)
        for shape in shapes:
            for x0, x1 in shape(y):
                row[3 * x0 : 3 * x1] = bytes(WHITE) * (x1 - x0)
        raw += b"\x00" + row  # filter type 0 (None)
    return _png(WIDTH, HEIGHT, zlib.compress(bytes(raw), 9))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, compressed: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", compressed)
        + _chunk(b"IEND", b"")
    )


# --- installing it ------------------------------------------------------------------------


class RichMenuError(Exception):
    def __init__(self, step: str, exc: ApiException) -> None:
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
        super().__init__(f"{step}: HTTP {exc.status}: {(body or exc.reason or '')[:300]}")


@dataclass(frozen=True)
class Installed:
    rich_menu_id: str
    removed: list[str]


async def install(tenant: TenantConfig, *, timeout_seconds: float = 30.0) -> Installed:
    """Create the menu, upload its image, make it the default, and delete the node's older
    menus (those named ``todoke:…``). Raises ``RichMenuError`` with LINE's answer."""
    configuration = Configuration(
        host=tenant.line_api_base_url.rstrip("/"), access_token=tenant.line_access_token
    )
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    request = RichMenuRequest.from_dict(menu_object(tenant.name))
    image = menu_image()
    async with AsyncApiClient(configuration) as client:
        api, blob = AsyncMessagingApi(client), AsyncMessagingApiBlob(client)
        step = "validate"
        try:
            await api.validate_rich_menu_object(request, _request_timeout=timeout)
            step = "create"
            created = await api.create_rich_menu(request, _request_timeout=timeout)
            menu_id = str(created.rich_menu_id)
            step = "upload image"
            await blob.set_rich_menu_image(
                menu_id, image, _headers={"Content-Type": "image/png"}, _request_timeout=timeout
            )
            step = "set default"
            await api.set_default_rich_menu(menu_id, _request_timeout=timeout)
            step = "list"
            existing = await api.get_rich_menu_list(_request_timeout=timeout)
            removed = [
                str(menu.rich_menu_id)
                for menu in existing.richmenus
                if menu.name.startswith(NAME_PREFIX) and menu.rich_menu_id != menu_id
            ]
            step = "delete old menus"
            for old in removed:
                await api.delete_rich_menu(old, _request_timeout=timeout)
        except ApiException as exc:
            raise RichMenuError(step, exc) from exc
    return Installed(menu_id, removed)
