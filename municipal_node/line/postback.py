"""Postback data the node puts on its buttons, and the strict parser for what comes back.

Format (small, versioned, URL-encoded): ``v=1&a=<action>[&c=<code>][&confirm=yes]``, e.g.
``v=1&a=topic&c=child_rearing``. Anything else — another version, an unknown action or code, a
repeated or extra field — is not ours (or forged) and parses to ``None``: the resident gets a
polite reply and nothing changes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from municipal_node.line.preferences import HOUSEHOLD_LABELS
from municipal_node.line.topics import TOPICS

VERSION = "1"
MAX_DATA = 300  # LINE's limit for postback data


class Action(enum.StrEnum):
    TOPIC = "topic"  # toggle a topic (c = topic code)
    HOUSEHOLD = "hh"  # toggle a declared household type (c = household type)
    DECLARE = "declare"  # show the household declaration card
    SETTINGS = "settings"  # show the current settings (rich menu 受信設定)
    PAUSE = "pause"  # show 配信停止・再開 (rich menu)
    STOP = "stop"  # stop every delivery
    RESUME = "resume"
    LINK = "link"  # how ID連携 works (rich menu)
    UNLINK = "unlink"  # undo ID連携
    ERASE = "erase"  # delete what the node keeps about me (confirm=yes to do it)


_NEEDS_CODE = {Action.TOPIC: TOPICS, Action.HOUSEHOLD: HOUSEHOLD_LABELS}


@dataclass(frozen=True)
class Postback:
    action: Action
    code: str | None = None
    confirmed: bool = False

    def data(self) -> str:
        fields = [("v", VERSION), ("a", self.action.value)]
        if self.code is not None:
            fields.append(("c", self.code))
        if self.confirmed:
            fields.append(("confirm", "yes"))
        return urlencode(fields)


def parse(data: str) -> Postback | None:
    """The postback, or None for anything the node did not put on a button."""
    if not data or len(data) > MAX_DATA:
        return None
    try:
        pairs = parse_qsl(data, keep_blank_values=True, strict_parsing=True, max_num_fields=4)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs) or fields.get("v") != VERSION:
        return None
    try:
        action = Action(fields.get("a", ""))
    except ValueError:
        return None
    allowed = {"v", "a"}
    code = fields.get("c")
    vocabulary = _NEEDS_CODE.get(action)
    if vocabulary is not None:
        if code not in vocabulary:
            return None
        allowed.add("c")
    confirmed = False
    if action is Action.ERASE and "confirm" in fields:
        if fields["confirm"] != "yes":
            return None
        confirmed = True
        allowed.add("confirm")
    if set(fields) - allowed:
        return None
    return Postback(action, code if vocabulary is not None else None, confirmed)
