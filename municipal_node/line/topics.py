"""Topics a resident may choose in 受信設定 (reception settings).

A notice's audience ``interests`` may name a topic by code or by its Japanese label;
``topic_code`` maps either to the code stored in ``friend_preferences.topics``.
"""

from __future__ import annotations

TOPICS: dict[str, str] = {  # code → label (the notice audience `interests` may use either)
    "child_rearing": "子育て",
    "single_parent": "ひとり親支援",
    "checkups": "健診・予防接種",
    "school": "就学・教育",
    "benefits": "給付金・手当",
    "elderly": "高齢・介護",
    "disability": "障害福祉",
}

_BY_LABEL: dict[str, str] = {label: code for code, label in TOPICS.items()}


def topic_code(value: str) -> str | None:
    """The topic code for a code or a label (surrounding spaces ignored); None if neither."""
    key = value.strip()
    if key in TOPICS:
        return key
    return _BY_LABEL.get(key)
