"""Suppression: primary (1..9) and complementary, checked against a brute-force observer."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.errors import ContractError, RejectionCode
from contracts.jws import TYP_NOTICE, TYP_REPORT, sign
from contracts.report import COUNT_NAMES, Report, suppress_counts
from contracts.verify import verify_report
from tests.contracts.conftest import OTHER_KEY, PREF_KEY

NODE_KEY = OTHER_KEY
NODE_KID = "muni-23235/node1"
PARTS = ("sent", "failed", "blocked")


def counts(
    sent: int, failed: int, blocked: int, opened: int = 0, clicked: int = 0, applied: int = 0
) -> dict[str, int]:
    return {
        "targeted": sent + failed + blocked,
        "sent": sent,
        "failed": failed,
        "blocked": blocked,
        "opened": opened,
        "clicked": clicked,
        "applied": applied,
    }


def feasible_values(published: dict[str, int | None], bound: int) -> dict[str, set[int]]:
    """What an observer can infer: every assignment of the withheld group cells to 1..bound
    consistent with targeted = sent + failed + blocked; the set of values each cell can take."""
    hidden = [n for n in PARTS if published[n] is None]
    known = sum(v for n in PARTS if (v := published[n]) is not None)
    values: dict[str, set[int]] = {n: set() for n in ("targeted", *hidden)}
    for assignment in itertools.product(range(1, bound + 1), repeat=len(hidden)):
        total = known + sum(assignment)
        if published["targeted"] is not None and total != published["targeted"]:
            continue
        if published["targeted"] is None and total < 1:
            continue
        for name, value in zip(hidden, assignment, strict=True):
            values[name].add(value)
        values["targeted"].add(total)
    return values


def check_safe(original: dict[str, int]) -> None:
    published, names = suppress_counts(original)
    assert names == [n for n in COUNT_NAMES if published[n] is None]
    for name in COUNT_NAMES:
        if published[name] is not None:
            assert published[name] == original[name]
            assert not 1 <= original[name] <= 9
        else:
            assert original[name] != 0  # zero is never withheld
    if 1 <= original["targeted"] <= 9:
        assert published["targeted"] is None
    bound = original["targeted"] + 3
    feasible = feasible_values(published, bound)
    for name in ("targeted", *PARTS):
        if published[name] is None:
            assert original[name] in feasible[name]
            assert len(feasible[name]) >= 2, (original, published, name, feasible[name])
    Report.model_validate(report(published, names))  # the model accepts what suppress_counts makes


def report(published: dict[str, int | None], names: list[str]) -> dict[str, Any]:
    return {
        "schema": "todoke.report/1",
        "municipality": "23235",
        "notice": {"publisher": "pref-23", "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X"},
        "phase": "open",
        "as_of": "2027-04-02T12:00:00+09:00",
        "counts": published,
        "suppressed": names,
    }


def test_primary_suppression_of_1_to_9() -> None:
    published, names = suppress_counts(counts(100, 0, 0, opened=5, clicked=0, applied=10))
    assert published == {
        "targeted": 100,
        "sent": 100,
        "failed": 0,
        "blocked": 0,
        "opened": None,
        "clicked": 0,
        "applied": 10,
    }
    assert names == ["opened"]


def test_lone_withheld_part_gets_the_next_smallest_non_zero_complement() -> None:
    published, names = suppress_counts(counts(100, 3, 0))
    assert names == ["sent", "failed"]  # sent (100) < targeted (103); blocked is zero
    assert published["targeted"] == 103 and published["blocked"] == 0


def test_two_withheld_ones_are_protected_too() -> None:
    # failed = blocked = 1 would follow from 52 - 50 = 2 and both >= 1.
    published, names = suppress_counts(counts(50, 1, 1))
    assert names == ["sent", "failed", "blocked"]
    assert published["targeted"] == 52


def test_small_total_withholds_total_and_part() -> None:
    published, names = suppress_counts(counts(0, 4, 0))
    assert names == ["targeted", "failed"]


def test_exhaustive_small_counts_never_reveal_a_withheld_value() -> None:
    values = [0, 1, 2, 3, 5, 9, 10, 11, 12, 19, 40]
    for sent, failed, blocked in itertools.product(values, repeat=3):
        check_safe(
            counts(sent, failed, blocked, opened=min(sent, 7), clicked=0, applied=min(sent, 10))
        )


def test_random_counts_never_reveal_a_withheld_value() -> None:
    rng = random.Random(20270401)
    for _ in range(400):
        sent, failed, blocked = (
            rng.choice([0, rng.randint(1, 9), rng.randint(10, 60)]) for _ in range(3)
        )
        check_safe(
            counts(
                sent,
                failed,
                blocked,
                opened=rng.randint(0, sent),
                clicked=rng.randint(0, 12),
                applied=rng.randint(0, 12),
            )
        )


def test_suppress_counts_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        suppress_counts({"targeted": 1})
    with pytest.raises(ValueError):
        suppress_counts({**counts(10, 0, 0), "sent": -1})
    with pytest.raises(ValueError):
        suppress_counts({**counts(10, 0, 0), "sent": True})


@pytest.mark.parametrize(
    ("published", "names"),
    [
        ({**counts(100, 3, 0)}, []),  # 3 not withheld
        ({**counts(100, 0, 0), "opened": None}, []),  # null not named
        ({**counts(100, 0, 0)}, ["opened"]),  # named but not null
        ({**counts(100, 3, 0), "failed": None}, ["failed"]),  # lone withheld in the group
        ({**counts(50, 1, 1), "failed": None, "blocked": None}, ["failed", "blocked"]),  # both 1
        ({**counts(100, 0, 0), "opened": None}, ["opened", "opened"]),
        ({**counts(100, 0, 0), "sent": 100.0}, []),
        ({**counts(100, 0, 0), "sent": "100"}, []),
        ({**counts(100, 0, 0), "visits": 3}, []),
    ],
)
def test_report_model_refuses_unsafe_or_malformed_counts(
    published: dict[str, Any], names: list[str]
) -> None:
    with pytest.raises(ValidationError):
        Report.model_validate(report(published, names))


def test_report_keeps_nulls_on_the_wire_and_verifies() -> None:
    published, names = suppress_counts(counts(100, 3, 0))
    payload = Report.model_validate(report(published, names)).to_payload()
    assert payload["counts"]["sent"] is None and payload["counts"]["failed"] is None
    envelope = sign(payload, typ=TYP_REPORT, kid=NODE_KID, private_key=NODE_KEY)
    assert verify_report(envelope, public_key=NODE_KEY.public_key()).to_payload() == payload


@pytest.mark.parametrize("phase", ["preview", "open", "reminder", "single"])
def test_report_phases(phase: str) -> None:
    assert Report.model_validate({**report(*suppress_counts(counts(0, 0, 0))), "phase": phase})


def test_report_verifier_checks_typ_signature_and_schema() -> None:
    payload = report(*suppress_counts(counts(100, 0, 0)))
    public = NODE_KEY.public_key()
    cases = [
        (
            sign(payload, typ=TYP_NOTICE, kid=NODE_KID, private_key=NODE_KEY),
            RejectionCode.BAD_ENVELOPE,
        ),
        (
            sign(payload, typ=TYP_REPORT, kid=NODE_KID, private_key=PREF_KEY),
            RejectionCode.BAD_SIGNATURE,
        ),
        (
            sign(
                {**payload, "municipality": "23"},
                typ=TYP_REPORT,
                kid=NODE_KID,
                private_key=NODE_KEY,
            ),
            RejectionCode.SCHEMA_INVALID,
        ),
    ]
    for envelope, code in cases:
        with pytest.raises(ContractError) as info:
            verify_report(envelope, public_key=public)
        assert info.value.code is code
