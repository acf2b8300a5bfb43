"""The messages residents read in the chat (LINE message objects, camelCase JSON).

Plain Japanese, generic: nothing here ever carries a resident's personal data; the only
per-resident facts shown are the resident's own choices (topics, declaration, stop) and
whether an ID連携 exists.
"""

from __future__ import annotations

from typing import Any

from municipal_node.line.postback import Action, Postback
from municipal_node.line.preferences import HOUSEHOLD_LABELS, Preferences
from municipal_node.line.topics import TOPICS

Message = dict[str, Any]
CHECK = "✓ "


def _postback_item(label: str, postback: Postback, display: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "postback", "label": label[:20], "data": postback.data()}
    action["displayText"] = display or label
    return {"type": "action", "action": action}


def _text(text: str, items: list[dict[str, Any]] | None = None) -> Message:
    message: Message = {"type": "text", "text": text}
    if items:
        message["quickReply"] = {"items": items[:13]}
    return message


def _topic_items(prefs: Preferences) -> list[dict[str, Any]]:
    return [
        _postback_item(
            (CHECK if code in prefs.topics else "") + label,
            Postback(Action.TOPIC, code),
            display=f"{label}（{'外す' if code in prefs.topics else '選ぶ'}）",
        )
        for code, label in TOPICS.items()
    ]


def _settings_items(prefs: Preferences, *, linked: bool) -> list[dict[str, Any]]:
    items = _topic_items(prefs)
    items.append(_postback_item("世帯の状況", Postback(Action.DECLARE)))
    if prefs.stopped:
        items.append(_postback_item("配信を再開", Postback(Action.RESUME)))
    else:
        items.append(_postback_item("配信停止", Postback(Action.STOP)))
    if linked:
        items.append(_postback_item("連携解除", Postback(Action.UNLINK)))
    else:
        items.append(_postback_item("ID連携", Postback(Action.LINK)))
    items.append(_postback_item("データ削除", Postback(Action.ERASE)))
    return items


def _joined(labels: list[str], empty: str) -> str:
    return "、".join(labels) if labels else empty


def greeting(tenant_name: str, prefs: Preferences, *, unblocked: bool) -> list[Message]:
    if unblocked:
        hello = (
            f"{tenant_name}のLINE公式アカウントです。ブロック解除ありがとうございます。\n"
            "以前の受信設定はそのまま残っています。"
        )
    else:
        hello = (
            f"{tenant_name}のLINE公式アカウントです。友だち追加ありがとうございます。\n"
            f"{tenant_name}から、手当・給付金、健診、子育て支援などのお知らせをお届けします。"
        )
    ask = (
        "受け取りたい分野を下のボタンから選んでください（いくつでも選べます）。\n"
        "あとからメニューの「受信設定」でいつでも変えられます。"
    )
    items = _topic_items(prefs)
    items.append(_postback_item("世帯の状況", Postback(Action.DECLARE)))
    items.append(_postback_item("設定を確認", Postback(Action.SETTINGS)))
    return [_text(hello), declaration_card(prefs), _text(ask, items)]


def declaration_card(prefs: Preferences) -> Message:
    buttons = [
        {
            "type": "button",
            "style": "primary" if code in prefs.household else "secondary",
            "height": "sm",
            "action": {
                "type": "postback",
                "label": (CHECK if code in prefs.household else "") + label,
                "data": Postback(Action.HOUSEHOLD, code).data(),
                "displayText": f"{label}（{'取り消す' if code in prefs.household else '申告する'}）",
            },
        }
        for code, label in HOUSEHOLD_LABELS.items()
    ]
    current = _joined([HOUSEHOLD_LABELS[h] for h in prefs.household], "なし")
    return {
        "type": "flex",
        "altText": "世帯の状況（任意）の申告",
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "spacing": "md",
                "contents": [
                    {"type": "text", "text": "世帯の状況（任意）", "weight": "bold", "size": "lg"},
                    {
                        "type": "text",
                        "wrap": True,
                        "size": "sm",
                        "text": (
                            "あてはまるものを選ぶと、関係する制度のお知らせが届きやすくなります。"
                            "申告は任意です。内容は暗号化して保存し、お知らせの対象を選ぶ"
                            "ためだけに使います。もう一度押すと取り消せます。"
                        ),
                    },
                    {"type": "text", "wrap": True, "size": "sm", "text": f"現在の申告: {current}"},
                ],
            },
            "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
        },
    }


def settings_summary(tenant_name: str, prefs: Preferences, *, linked: bool) -> list[Message]:
    topics = _joined([TOPICS[c] for c in prefs.topics], "（未選択）")
    household = _joined([HOUSEHOLD_LABELS[h] for h in prefs.household], "なし")
    text = (
        f"{tenant_name} 受信設定\n"
        f"・受け取る分野: {topics}\n"
        f"・世帯の状況の申告: {household}\n"
        f"・配信: {'停止中' if prefs.stopped else '受け取る'}\n"
        f"・ID連携: {'連携済み' if linked else '未連携'}\n"
        "下のボタンで変更できます。"
    )
    return [_text(text, _settings_items(prefs, linked=linked))]


def pause_menu(prefs: Preferences) -> list[Message]:
    if prefs.stopped:
        return [
            _text(
                "現在、すべてのお知らせの配信を停止しています。",
                [_postback_item("配信を再開", Postback(Action.RESUME))],
            )
        ]
    return [
        _text(
            "現在、お知らせを受け取っています。すべて止めるときは「配信停止」を押してください。",
            [
                _postback_item("配信停止", Postback(Action.STOP)),
                _postback_item("設定を確認", Postback(Action.SETTINGS)),
            ],
        )
    ]


def stopped() -> list[Message]:
    return [
        _text(
            "すべてのお知らせの配信を停止しました。\n"
            "再開するときは「配信を再開」を押すか、「再開」と送ってください。",
            [_postback_item("配信を再開", Postback(Action.RESUME))],
        )
    ]


def resumed() -> list[Message]:
    return [
        _text(
            "お知らせの配信を再開しました。",
            [_postback_item("設定を確認", Postback(Action.SETTINGS))],
        )
    ]


def unknown_button() -> list[Message]:
    return [
        _text(
            "申し訳ありません。このボタンは使えません。"
            "メニューの「受信設定」からもう一度お試しください。",
            [_postback_item("設定を確認", Postback(Action.SETTINGS))],
        )
    ]


def help_text(tenant_name: str) -> list[Message]:
    return [
        _text(
            "このアカウントでは、個別のメッセージにはお答えできません。\n"
            "・受信設定: メニューの「受信設定」\n"
            f"・ID連携: {tenant_name}から届いた登録コード（XXXX-XXXX-XXXX）をこのトークに送信\n"
            "・配信の停止: 「配信停止」と送信\n"
            f"ご相談・お問い合わせは{tenant_name}の担当窓口へお願いします。",
            [_postback_item("設定を確認", Postback(Action.SETTINGS))],
        )
    ]


def link_help(tenant_name: str, *, linked: bool) -> list[Message]:
    if linked:
        return [
            _text(
                "現在、ID連携済みです。解除するときは「連携解除」を押してください。",
                [
                    _postback_item("連携解除", Postback(Action.UNLINK)),
                    _postback_item("設定を確認", Postback(Action.SETTINGS)),
                ],
            )
        ]
    return [
        _text(
            "ID連携をすると、あなたに関係する制度のお知らせが届くようになります。\n"
            f"{tenant_name}から郵送された「LINE連携用 登録コードのお知らせ」に書かれた"
            "登録コード（XXXX-XXXX-XXXX）を、このトークにそのまま送ってください。"
        )
    ]


def code_unknown() -> list[Message]:
    return [
        _text(
            "登録コードを確認できませんでした。お知らせに書かれたコード"
            "（XXXX-XXXX-XXXX の12文字）をもう一度お確かめください。"
        )
    ]


def code_expired(tenant_name: str) -> list[Message]:
    return [
        _text(
            "この登録コードは有効期限が切れています。"
            f"お手数ですが、{tenant_name}の担当窓口で再発行をお申し込みください。"
        )
    ]


def code_not_usable(tenant_name: str) -> list[Message]:
    return [
        _text(
            "この登録コードは、すでに使われたか無効になっています。"
            f"心当たりがない場合は{tenant_name}の担当窓口へご連絡ください。"
        )
    ]


def code_throttled() -> list[Message]:
    return [
        _text(
            "登録コードの確認に続けて失敗したため、しばらく受け付けを止めています。"
            "1時間ほどたってから、もう一度お試しください。"
        )
    ]


def temporarily_unavailable() -> list[Message]:
    return [
        _text(
            "ただいま手続きを進められません。"
            "しばらくたってから、もう一度登録コードを送ってください。"
        )
    ]


def link_button(url: str) -> list[Message]:
    return [
        {
            "type": "flex",
            "altText": "LINE連携の確認（ボタンを押して完了してください）",
            "contents": {
                "type": "bubble",
                "body": {
                    "type": "box",
                    "layout": "vertical",
                    "spacing": "md",
                    "contents": [
                        {"type": "text", "text": "LINE連携の確認", "weight": "bold", "size": "lg"},
                        {
                            "type": "text",
                            "wrap": True,
                            "size": "sm",
                            "text": (
                                "登録コードを確認しました。下の「連携する」ボタンを押して"
                                "手続きを完了してください。ボタンは10分間有効です。"
                            ),
                        },
                    ],
                },
                "footer": {
                    "type": "box",
                    "layout": "vertical",
                    "contents": [
                        {
                            "type": "button",
                            "style": "primary",
                            "action": {"type": "uri", "label": "連携する", "uri": url},
                        }
                    ],
                },
            },
        }
    ]


def link_done(tenant_name: str) -> list[Message]:
    return [
        _text(
            "連携が完了しました。\n"
            f"あなたに関係する{tenant_name}の制度のお知らせが届くようになります。"
            "解除はメニューの「受信設定」からいつでもできます。",
            [_postback_item("設定を確認", Postback(Action.SETTINGS))],
        )
    ]


def link_failed() -> list[Message]:
    return [
        _text(
            "連携できませんでした。ボタンの有効期限（10分）が切れたか、"
            "別のLINEアカウントで開かれた可能性があります。"
            "お手数ですが、もう一度登録コードを送ってください。"
        )
    ]


def unlinked(*, had_link: bool) -> list[Message]:
    text = "ID連携を解除しました。" if had_link else "ID連携はされていません。"
    return [_text(text, [_postback_item("設定を確認", Postback(Action.SETTINGS))])]


def erase_confirm(tenant_name: str) -> list[Message]:
    return [
        _text(
            f"{tenant_name}が保存している、あなたの受信設定・世帯の状況の申告・ID連携を"
            "削除します。よろしいですか？\n"
            "（友だち登録はそのままです。お知らせを止めるには「配信停止」を使ってください）",
            [
                _postback_item("削除する", Postback(Action.ERASE, confirmed=True)),
                _postback_item("やめる", Postback(Action.SETTINGS)),
            ],
        )
    ]


def erased() -> list[Message]:
    return [_text("受信設定・世帯の状況の申告・ID連携の情報を削除しました。")]
