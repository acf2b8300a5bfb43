"""Node key ids: one per JST day, numbered when rotated twice the same day."""

from __future__ import annotations

from datetime import UTC, datetime

from municipal_node.reports.keys import node_kid

# 2026-04-01 23:30 JST
AT = datetime(2026, 4, 1, 14, 30, tzinfo=UTC)


def test_kids_follow_the_jst_day_and_count_up_within_it() -> None:
    assert node_kid("23235", AT, None) == "muni-23235/node-20260401"
    assert node_kid("23235", AT, "muni-23235/node-20250101") == "muni-23235/node-20260401"
    assert node_kid("23235", AT, "muni-23235/node-20260401") == "muni-23235/node-20260401-2"
    assert node_kid("23235", AT, "muni-23235/node-20260401-2") == "muni-23235/node-20260401-3"
    late = datetime(2026, 4, 1, 15, 30, tzinfo=UTC)  # 00:30 JST on the 2nd
    assert node_kid("23235", late, None) == "muni-23235/node-20260402"
