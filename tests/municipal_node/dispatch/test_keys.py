"""Deterministic names of a send: retry keys per batch, aggregation units per notice phase."""

from __future__ import annotations

import uuid

from municipal_node.dispatch.keys import AGGREGATION_UNIT_RE, aggregation_unit_for, retry_key_for

NOTICE = "01JF0000000000000000000000"


def test_the_same_batch_always_gets_the_same_retry_key() -> None:
    first = retry_key_for("23235", "gov-cfa", NOTICE, "notice", 7)
    assert first == retry_key_for("23235", "gov-cfa", NOTICE, "notice", 7)
    assert str(uuid.UUID(first)) == first  # a UUID, as LINE requires


def test_batches_phases_notices_and_tenants_get_different_retry_keys() -> None:
    keys = {
        retry_key_for("23235", "gov-cfa", NOTICE, "notice", 0),
        retry_key_for("23235", "gov-cfa", NOTICE, "notice", 1),
        retry_key_for("23235", "gov-cfa", NOTICE, "reminder", 0),
        retry_key_for("23235", "gov-cfa", NOTICE[:-1] + "1", "notice", 0),
        retry_key_for("23100", "gov-cfa", NOTICE, "notice", 0),
        retry_key_for("23235", "pref-23", NOTICE, "notice", 0),
    }
    assert len(keys) == 6


def test_aggregation_units_are_what_line_accepts_and_stable_per_notice_phase() -> None:
    unit = aggregation_unit_for("23235", "gov-cfa", NOTICE, "notice")
    assert AGGREGATION_UNIT_RE.fullmatch(unit) and len(unit) == 30
    assert unit == aggregation_unit_for("23235", "gov-cfa", NOTICE, "notice")
    assert unit != aggregation_unit_for("23235", "gov-cfa", NOTICE, "reminder")
