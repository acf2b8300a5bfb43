"""The sandbox's rich menu endpoints through ``line-bot-sdk``, LINE's refusals over raw HTTP,
the responses checked against LINE's OpenAPI, and a simulated tap."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    RichMenuRequest,
)

from tests.line_sandbox.conftest import AUTH, CHANNEL, SECRET, TOKEN, serve_in_thread
from tests.line_sandbox.helpers import http, post, user
from tests.line_sandbox.openapi_contract import validate_exchange
from tests.line_sandbox.receiver import Receiver


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = (b"\x00" + b"\xff\xff\xff" * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def menu(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "size": {"width": 2500, "height": 843},
        "selected": True,
        "name": "test menu",
        "chatBarText": "メニュー",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                "action": {"type": "postback", "label": "設定", "data": "v=1&a=settings"},
            },
            {
                "bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
                "action": {"type": "message", "label": "再開", "text": "再開"},
            },
        ],
    }
    value.update(changes)
    return value


@pytest.fixture
def sdk(sandbox_server: str) -> Iterator[tuple[MessagingApi, MessagingApiBlob]]:
    with ApiClient(Configuration(host=sandbox_server, access_token=TOKEN)) as client:
        yield MessagingApi(client), MessagingApiBlob(client)


def test_create_upload_set_default_download_and_delete_through_the_sdk(
    sandbox_server: str, sdk: tuple[MessagingApi, MessagingApiBlob], shared_dir: Path
) -> None:
    api, blob = sdk
    request = RichMenuRequest.from_dict(menu())
    api.validate_rich_menu_object(request)
    menu_id = api.create_rich_menu(request).rich_menu_id
    assert menu_id.startswith("richmenu-") and len(menu_id) == 41
    fetched = api.get_rich_menu(menu_id)
    assert (fetched.name, fetched.chat_bar_text, len(fetched.areas)) == ("test menu", "メニュー", 2)
    with pytest.raises(ApiException) as no_image:
        api.set_default_rich_menu(menu_id)
    assert no_image.value.status == 400
    assert "must upload richmenu image" in str(no_image.value.body)
    image = png(2500, 843)
    blob.set_rich_menu_image(menu_id, image, _headers={"Content-Type": "image/png"})
    with pytest.raises(ApiException) as twice:
        blob.set_rich_menu_image(menu_id, image, _headers={"Content-Type": "image/png"})
    assert twice.value.status == 400
    api.set_default_rich_menu(menu_id)
    assert api.get_default_rich_menu_id().rich_menu_id == menu_id
    assert bytes(blob.get_rich_menu_image(menu_id)) == image
    assert [m.rich_menu_id for m in api.get_rich_menu_list().richmenus] == [menu_id]
    api.cancel_default_rich_menu()
    with pytest.raises(ApiException) as none:
        api.get_default_rich_menu_id()
    assert none.value.status == 404
    api.delete_rich_menu(menu_id)
    with pytest.raises(ApiException) as gone:
        api.get_rich_menu(menu_id)
    assert gone.value.status == 404
    exchanges = http().get(f"{sandbox_server}/sandbox/exchanges").json()
    spec = shared_dir / "line-openapi" / "messaging-api.yml"
    checked = 0
    for exchange in exchanges:
        if "/content" not in exchange["path"] and "richmenu" in exchange["path"]:
            validate_exchange(spec, exchange)
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    ("changes", "prop"),
    [
        ({"size": {"width": 700, "height": 300}}, "size.width"),
        ({"size": {"width": 2500, "height": 2000}}, "size"),
        ({"chatBarText": "あ" * 15}, "chatBarText"),
        ({"name": ""}, "name"),
        ({"selected": None}, "selected"),
        ({"areas": [{"bounds": {"x": 2000, "y": 0, "width": 1000, "height": 843}, "action": {"type": "postback", "data": "x"}}]}, "areas[0].bounds"),
        ({"areas": [{"bounds": {"x": 0, "y": 0, "width": 10, "height": 10}, "action": {"type": "postback"}}]}, "areas[0].action.data"),
        ({"areas": [{"bounds": {"x": 0, "y": 0, "width": 10, "height": 10}, "action": {"type": "jump"}}]}, "areas[0].action.type"),
    ],
)  # fmt: skip
def test_an_invalid_menu_is_refused_with_lines_details(
    sandbox_server: str, changes: dict[str, Any], prop: str
) -> None:
    for path in ("/v2/bot/richmenu", "/v2/bot/richmenu/validate"):
        response = post(sandbox_server, path, menu(**changes))
        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "The request body has 1 error(s)"
        assert [d["property"] for d in body["details"]] == [prop]
    listed = http().get(f"{sandbox_server}/v2/bot/richmenu/list", headers=AUTH).json()
    assert listed == {"richmenus": []}


def test_an_image_of_the_wrong_kind_or_size_is_refused(sandbox_server: str) -> None:
    menu_id = post(sandbox_server, "/v2/bot/richmenu", menu()).json()["richMenuId"]
    url = f"{sandbox_server}/v2/bot/richmenu/{menu_id}/content"
    wrong_size = http().post(
        url, content=png(1200, 405), headers={**AUTH, "Content-Type": "image/png"}
    )
    assert wrong_size.status_code == 400 and "must match the rich menu size" in wrong_size.text
    not_png = http().post(url, content=b"GIF89a....", headers={**AUTH, "Content-Type": "image/png"})
    assert not_png.status_code == 400
    gif = http().post(url, content=b"GIF89a", headers={**AUTH, "Content-Type": "image/gif"})
    assert gif.status_code == 415
    unknown = http().post(
        f"{sandbox_server}/v2/bot/richmenu/richmenu-{'0' * 32}/content",
        content=png(2500, 843),
        headers={**AUTH, "Content-Type": "image/png"},
    )
    assert unknown.status_code == 404
    assert http().get(url).status_code == 401
    assert http().get(url, headers=AUTH).status_code == 404  # no image yet


def test_a_tap_on_the_default_menu_sends_the_areas_action(sandbox_server: str) -> None:
    bot = Receiver(SECRET)
    with serve_in_thread(bot.app()) as bot_url:
        http().patch(
            f"{sandbox_server}/sandbox/channels/{CHANNEL}",
            json={"webhook_url": f"{bot_url}/callback"},
        ).raise_for_status()
        tap = f"{sandbox_server}/sandbox/channels/{CHANNEL}/richmenu/tap"
        assert http().post(tap, json={"user_id": user(0), "area": 0}).status_code == 404
        menu_id = post(sandbox_server, "/v2/bot/richmenu", menu()).json()["richMenuId"]
        http().post(
            f"{sandbox_server}/v2/bot/richmenu/{menu_id}/content",
            content=png(2500, 843),
            headers={**AUTH, "Content-Type": "image/png"},
        ).raise_for_status()
        post(sandbox_server, f"/v2/bot/user/all/richmenu/{menu_id}", None).raise_for_status()
        assert http().post(tap, json={"user_id": user(0), "area": 0}).json()["webhook_ok"]
        assert http().post(tap, json={"user_id": user(0), "area": 1}).json()["webhook_ok"]
        assert http().post(tap, json={"user_id": user(0), "area": 2}).status_code == 404
    first, second = (p.body["events"][0] for p in bot.posts)
    assert (first["type"], first["postback"]) == ("postback", {"data": "v=1&a=settings"})
    assert (second["type"], second["message"]["text"]) == ("message", "再開")
