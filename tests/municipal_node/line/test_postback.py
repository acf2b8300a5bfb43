"""The postback data format: what the node puts on buttons parses back; nothing else does."""

from __future__ import annotations

import pytest

from municipal_node.line.postback import Action, Postback, parse
from municipal_node.line.topics import TOPICS, topic_code


@pytest.mark.parametrize(
    "postback",
    [
        Postback(Action.TOPIC, "child_rearing"),
        Postback(Action.HOUSEHOLD, "pregnant"),
        Postback(Action.SETTINGS),
        Postback(Action.ERASE, confirmed=True),
    ],
)
def test_the_nodes_own_data_round_trips(postback: Postback) -> None:
    assert parse(postback.data()) == postback


def test_the_format_is_small_and_versioned() -> None:
    assert Postback(Action.TOPIC, "child_rearing").data() == "v=1&a=topic&c=child_rearing"


@pytest.mark.parametrize(
    "data",
    [
        "",
        "v=1",
        "a=topic&c=school",
        "v=2&a=topic&c=school",
        "v=1&a=topic",
        "v=1&a=settings&c=school",
        "v=1&a=stop&confirm=yes",
        "v=1&v=1&a=stop",
        "v=1&a=stop&x=1&y=2&z=3",
        "v=1&a=topic&c=school" + "&pad=" + "x" * 300,
        "%%%",
    ],
)
def test_anything_else_parses_to_none(data: str) -> None:
    assert parse(data) is None


def test_topic_code_takes_a_code_or_a_label() -> None:
    assert topic_code("checkups") == "checkups"
    assert topic_code(" 健診・予防接種 ") == "checkups"
    assert topic_code("天気") is None
    assert len(TOPICS) == 7
