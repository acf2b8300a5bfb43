"""``todoke node setup-rich-menu`` against the sandbox, and taps on the menu it made."""

from __future__ import annotations

import asyncio
import struct
import zlib

from click.testing import CliRunner
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from municipal_node.line.richmenu import HEIGHT, WIDTH, menu_image
from tests.municipal_node.conftest import ENCRYPTION_KEY
from tests.municipal_node.helpers import CHANNEL, CHANNEL_TOKEN, TENANT
from tests.municipal_node.line.rig import Chat
from todoke.commands.node import node_group


def test_the_menu_image_is_a_2500x843_rgb_png_with_three_panels() -> None:
    png = menu_image()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 1024 * 1024
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert (width, height, depth, colour) == (WIDTH, HEIGHT, 8, 2)
    (idat_length,) = struct.unpack(">I", png[33:37])
    assert png[37:41] == b"IDAT"
    raw = zlib.decompress(png[41 : 41 + idat_length])
    assert len(raw) == HEIGHT * (1 + 3 * WIDTH)
    top_left = [raw[1 + 3 * x : 4 + 3 * x] for x in (10, 1250, 2490)]
    assert top_left == [bytes((27, 127, 121)), bytes((44, 90, 160)), bytes((181, 86, 28))]


async def setup_menu(chat: Chat) -> str:
    env = {
        "TODOKE_NODE_DATABASE_URL": chat.node.settings.database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    result = await asyncio.to_thread(
        CliRunner().invoke, node_group, ["setup-rich-menu", "--tenant", TENANT], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("リッチメニューを設定しました / rich menu set as default: ")
    return result.output.split(": ")[1].split("（")[0].strip()


async def test_setup_rich_menu_installs_the_default_menu_and_replaces_older_ones(
    chat: Chat,
) -> None:
    first = await setup_menu(chat)
    second = await setup_menu(chat)
    assert first != second
    with ApiClient(Configuration(host=chat.sandbox.url, access_token=CHANNEL_TOKEN)) as client:
        api, blob = MessagingApi(client), MessagingApiBlob(client)
        assert api.get_default_rich_menu_id().rich_menu_id == second
        assert [m.rich_menu_id for m in api.get_rich_menu_list().richmenus] == [second]
        menu = api.get_rich_menu(second)
        assert menu.chat_bar_text == "メニュー"
        assert [(a.action.label, a.action.data) for a in menu.areas] == [
            ("受信設定", "v=1&a=settings"),
            ("ID連携", "v=1&a=link"),
            ("配信停止・再開", "v=1&a=pause"),
        ]
        assert bytes(blob.get_rich_menu_image(second)) == menu_image()


async def test_tapping_the_menu_areas_shows_settings_linking_help_and_pause(chat: Chat) -> None:
    await setup_menu(chat)
    user = chat.user(0)
    expected = (
        "受信設定",
        "ID連携をすると、あなたに関係する制度のお知らせが届くようになります。",
        "現在、お知らせを受け取っています。",
    )
    for area, start in enumerate(expected):
        response = chat.http.post(
            f"{chat.sandbox.url}/sandbox/channels/{CHANNEL}/richmenu/tap",
            json={"user_id": user, "area": area},
        )
        assert response.json()["webhook_ok"] is True
        await chat.process()
        assert start in chat.last_text(user)
