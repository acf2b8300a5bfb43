"""The LIFF application form in a real browser: sandbox and node as real processes, the node's
page loading the sandbox's LIFF SDK, a simulated resident opening the campaign's button from
their LINE app (the click counter's redirect to the form's LIFF URL, which LINE — here the
sandbox's /liff-url — opens logged in), applying, and getting a receipt."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import create_engine, text

from line_sandbox.residents import simulated_user_id
from municipal_node.db.engine import sync_url
from tests.browser import phone_page
from todoke.demo.processes import run_cli, start_service

pytestmark = pytest.mark.e2e

TENANT = "23235"
CHANNEL = "yatomi"
TOKEN = "liff-browser-token"
SECRET = "s" * 32
LOGIN = "1655000000"
LIFF_ID = f"{LOGIN}-TodokeBr"
ROOT_JWK = (
    '{"kid": "hub-aichi/root1", "jwk": {"kty": "OKP", "crv": "Ed25519", '
    '"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}'
)


def add_campaign(database_url: str) -> int:
    now = datetime.now(UTC)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO campaigns (tenant_code, publisher, notice_id, title, opens_at, "
                    "closes_at, spec, quiet_start, quiet_end, skip_holidays, form, state, "
                    "created_by, created_at, updated_at) VALUES (:t, 'gov-cfa', "
                    "'01JBROWSER0000000000000001', :title, :opens, :closes, '{}', '21:00', "
                    "'08:00', false, :form, 'active', 'test', :now, :now)"
                ),
                {
                    "t": TENANT,
                    "title": "児童扶養手当 現況届",
                    "opens": now - timedelta(days=1),
                    "closes": now + timedelta(days=30),
                    "form": '[{"name": "kouza", "label": "振込先の変更", "type": "select", '
                    '"required": true, "options": ["変更なし", "変更あり"]}, {"name": "consent", '
                    '"label": "記載内容に間違いありません", "type": "checkbox", "required": true}]',
                    "now": now,
                },
            )
            campaign_id = connection.execute(text("SELECT max(id) FROM campaigns")).scalar_one()
    finally:
        engine.dispose()
    return int(campaign_id)


def test_resident_applies_from_line_and_gets_a_receipt(tmp_path: Path, database_url: str) -> None:
    sandbox = start_service(
        "sandbox",
        ["sandbox", "serve", "--channel-name", CHANNEL, "--channel-secret", SECRET,
         "--channel-token", TOKEN, "--friends", "3"],
        env={},
        workdir=tmp_path,
    )  # fmt: skip
    node = None
    try:
        env = {
            "TODOKE_NODE_DATABASE_URL": database_url,
            "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "TODOKE_NODE_ADMIN_TOKEN": "liff-admin",
            "TODOKE_NODE_LIFF_SDK_URL": f"{sandbox.url}/liff/edge/2/sdk.js",
            "TODOKE_NODE_LIFF_URL_BASE": f"{sandbox.url}/liff-url",
            "TODOKE_NODE_SUBSCRIBE": "false",
            "TODOKE_NODE_POLL_INTERVAL_SECONDS": "60",
        }
        run_cli(["node", "migrate"], env=env)
        run_cli(
            ["node", "add-tenant", "--code", TENANT, "--name", "弥富市",
             "--hub-url", "http://127.0.0.1:9", "--hub-root-key", ROOT_JWK,
             "--line-channel-secret", SECRET, "--line-channel-token", TOKEN,
             "--line-api-base-url", sandbox.url],
            env=env,
        )  # fmt: skip
        campaign_id = add_campaign(database_url)
        node = start_service("node", ["node", "serve"], env=env, workdir=tmp_path)
        run_cli(
            ["node", "set-liff", "--tenant", TENANT, "--liff-id", LIFF_ID,
             "--login-channel-id", LOGIN, "--public-url", node.url],
            env=env,
        )  # fmt: skip
        page_url = f"{node.url}/liff/{TENANT}/campaigns/{campaign_id}"
        httpx.post(  # the endpoint URL `set-liff` names; LIFF URLs append /campaigns/{id}
            f"{sandbox.url}/sandbox/channels/{CHANNEL}/liff-apps",
            json={
                "liff_id": LIFF_ID,
                "login_channel_id": LOGIN,
                "endpoint_url": f"{node.url}/liff/{TENANT}",
            },
        ).raise_for_status()
        user = simulated_user_id(CHANNEL, 1)
        button = f"{node.url}/c/{TENANT}/{campaign_id}/open"  # what the open phase's button links
        opened = f"{sandbox.url}/sandbox/liff/open/{CHANNEL}/{user}?url={quote(button, safe='')}"

        with phone_page() as page:
            # outside LINE: no login, the button stays off and the page says why
            page.goto(page_url)
            page.wait_for_selector("#status:not([hidden])")
            assert "LINE アプリからこのページを開いてください" in page.inner_text("#status")
            assert page.is_disabled("#submit")

            page.goto(opened)
            page.wait_for_selector("#submit:not([disabled])")
            assert page.url == page_url  # redirected; the token left the address bar
            assert "児童扶養手当 現況届" in page.inner_text("h1")
            page.click("#submit")  # without the required answers
            page.wait_for_selector("#status:not([hidden])")
            assert "入力内容を確認してください" in page.inner_text("#status")
            page.select_option("select[name='a.kouza']", "変更あり")
            page.check("input[name='a.consent']")
            page.click("#submit")
            page.wait_for_selector("#done:not([hidden])")
            assert page.inner_text("#done-title") == "申請を受け付けました"
            receipt = page.inner_text("#receipt-no")
            assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", receipt)
            page.screenshot(path=str(tmp_path / "liff-receipt.png"), full_page=True)
            page.click("#close")
            assert page.get_attribute("html", "data-liff-closed") == "true"

            # the same resident again: the first receipt
            page.goto(opened)
            page.wait_for_selector("#submit:not([disabled])")
            page.select_option("select[name='a.kouza']", "変更なし")
            page.check("input[name='a.consent']")
            page.click("#submit")
            page.wait_for_selector("#done:not([hidden])")
            assert page.inner_text("#done-title") == "すでに申請を受け付けています"
            assert page.inner_text("#receipt-no") == receipt

        engine = create_engine(sync_url(database_url))
        try:
            with engine.connect() as connection:
                count = connection.execute(
                    text("SELECT count(*) FROM applications WHERE campaign_id = :c"),
                    {"c": campaign_id},
                ).scalar_one()
                clicks = connection.execute(
                    text("SELECT clicks FROM phase_clicks WHERE campaign_id = :c"),
                    {"c": campaign_id},
                ).scalar_one()
        finally:
            engine.dispose()
        assert (count, clicks) == (1, 2)  # two taps on the button, one application
    finally:
        if node is not None:
            node.stop()
        sandbox.stop()


def test_chat_buttons_open_through_the_residents_line_app(tmp_path: Path) -> None:
    sandbox = start_service(
        "sandbox",
        ["sandbox", "serve", "--channel-name", CHANNEL, "--channel-secret", SECRET,
         "--channel-token", TOKEN, "--friends", "2"],
        env={},
        workdir=tmp_path,
    )  # fmt: skip
    try:
        user = simulated_user_id(CHANNEL, 0)
        target = "https://todoke.example.lg.jp/c/23235/1/open"
        flex = {
            "type": "flex",
            "altText": "申請受付開始",
            "contents": {
                "type": "bubble",
                "body": {"type": "box", "layout": "vertical", "contents": [
                    {"type": "button", "action": {"type": "uri", "label": "申請する",
                                                  "uri": target}},
                ]},
            },
        }  # fmt: skip
        response = httpx.post(
            f"{sandbox.url}/v2/bot/message/push",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"to": user, "messages": [flex]},
        )
        assert response.status_code == 200, response.text
        with phone_page() as page:
            page.goto(f"{sandbox.url}/sandbox/chat/{CHANNEL}/{user}")
            href = page.get_attribute("a.btn", "href")
            assert href == f"/sandbox/liff/open/{CHANNEL}/{user}?url={quote(target, safe='')}"
    finally:
        sandbox.stop()
