from __future__ import annotations

import pytest

from contracts.ids import (
    AREA_CODE_RE,
    HUB_KID_RE,
    KID_RE,
    PROGRAM_CODE_RE,
    PUBLISHER_ID_RE,
    ULID_RE,
    area_covers,
    publisher_of_kid,
)


def test_publisher_of_kid() -> None:
    assert publisher_of_kid("pref-23/2027a") == "pref-23"
    assert publisher_of_kid("muni-23235/k.1_x-Y") == "muni-23235"
    assert publisher_of_kid("gov-cfa/1") == "gov-cfa"
    for bad in ["pref-23", "pref-23/", "pref-23/a/b", "hub-aichi/root1", "pref-23/" + "a" * 33]:
        with pytest.raises(ValueError):
            publisher_of_kid(bad)


@pytest.mark.parametrize(
    ("regex", "good", "bad"),
    [
        (
            PUBLISHER_ID_RE,
            ["gov-cfa", "pref-01", "pref-47", "muni-23235"],
            ["pref-00", "pref-48", "muni-2323", "gov-", "GOV-cfa", "pref-23\n"],
        ),
        (
            AREA_CODE_RE,
            ["00", "01", "23", "47", "23235"],
            ["0", "48", "00000", "232", "48123", "23235\n"],
        ),
        (KID_RE, ["pref-23/2027a", "gov-cfa/a.b_c-D"], ["pref-23/sp ace", "x/y", "pref-23/é"]),
        (
            HUB_KID_RE,
            ["hub-aichi/root1", "hub-pref-23/r"],
            ["hub-/r", "hub-Aichi/r", "aichi/root1"],
        ),
        (
            ULID_RE,
            ["01JQ8Z5X3M4N6P7R8S9T0V1W2X", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"],
            ["8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01JQ8Z5X3M4N6P7R8S9T0V1W2U"],
        ),
        (PROGRAM_CODE_RE, ["jido-fuyo-teate", "a", "9" * 64], ["", "A", "a_b", "a" * 65]),
    ],
)
def test_patterns_fullmatch(regex: object, good: list[str], bad: list[str]) -> None:
    import re

    assert isinstance(regex, re.Pattern)
    assert all(regex.fullmatch(text) for text in good)
    assert not any(regex.fullmatch(text) for text in bad)


@pytest.mark.parametrize(
    ("area", "code", "covered"),
    [
        ("00", "23235", True),
        ("00", "23", True),
        ("00", "00", True),
        ("23", "23235", True),
        ("23", "23", True),
        ("23", "24201", False),
        ("23", "00", False),
        ("23235", "23235", True),
        ("23235", "23236", False),
        ("23235", "23", False),
        ("2", "23235", False),
        ("23", "junk", False),
    ],
)
def test_area_covers(area: str, code: str, covered: bool) -> None:
    assert area_covers(area, code) is covered
