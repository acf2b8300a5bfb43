"""Notice lifecycle through the GraphQL API: references, revisions, duplicates, equivocation.
Each rejection: its code, nothing stored, nothing fed (the counter the feed's lastSeq reports)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from contracts.jws import digest
from hub.publishers.models import Alarm
from hub.publishers.repository import PublisherRepository
from hub.state import HubState
from tests.hub.helpers import PREF_KEY, PREF_KID, HubApi, follow_up, make_notice, new_ulid, signed
from tests.hub.publishers.lifecycle_helpers import assert_accepted, assert_refused, hub_totals


async def test_update_with_a_dangling_reference_is_bad_reference(
    api: HubApi, registered: HubState
) -> None:
    await assert_accepted(api, signed(make_notice()))  # something else is stored
    ghost = make_notice()
    update = follow_up(ghost, signed(ghost))  # references a notice the hub never received
    result = await assert_refused(api, registered, signed(update), "BAD_REFERENCE")
    assert "not stored" in result["message"]


async def test_update_of_another_publishers_notice_is_bad_reference(
    api: HubApi, registered: HubState
) -> None:
    theirs = make_notice(publisher="pref-23", area=["23"])
    theirs_env = signed(theirs, kid=PREF_KID, key=PREF_KEY)
    await assert_accepted(api, theirs_env)
    # gov-cfa signs an Update of pref-23's notice, naming it as if it were its own
    hijack = follow_up(theirs, theirs_env, publisher="gov-cfa")
    hijack["references"][0]["publisher"] = "gov-cfa"
    result = await assert_refused(api, registered, signed(hijack), "BAD_REFERENCE")
    assert "another publisher" in result["message"]


async def test_reference_naming_another_publisher_is_bad_reference(
    api: HubApi, registered: HubState
) -> None:
    # CONTRACT §2: references name the same publisher only — a lifecycle rule (BAD_REFERENCE)
    theirs = make_notice(publisher="pref-23", area=["23"])
    theirs_env = signed(theirs, kid=PREF_KID, key=PREF_KEY)
    await assert_accepted(api, theirs_env)
    cross = follow_up(theirs, theirs_env, publisher="gov-cfa")  # reference names pref-23
    result = await assert_refused(api, registered, signed(cross), "BAD_REFERENCE")
    assert "same publisher" in result["message"]


async def test_update_for_another_document_is_bad_reference(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    alert_env = signed(alert)
    await assert_accepted(api, alert_env)
    other_document = follow_up(alert, alert_env, document_id=new_ulid())
    result = await assert_refused(api, registered, signed(other_document), "BAD_REFERENCE")
    assert "another document" in result["message"]


async def test_update_not_above_the_documents_latest_revision_is_stale(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    alert_env = signed(alert)
    await assert_accepted(api, alert_env)
    update = follow_up(alert, alert_env)
    update_env = signed(update)
    await assert_accepted(api, update_env)  # revision 2
    again = follow_up(alert, alert_env)  # a second revision 2, based on revision 1
    await assert_refused(api, registered, signed(again), "STALE_REVISION")
    cancel = follow_up(alert, alert_env, msg_type="Cancel")  # a Cancel based on the old one
    await assert_refused(api, registered, signed(cancel), "STALE_REVISION")
    # based on the latest, it goes through
    await assert_accepted(api, signed(follow_up(update, update_env, msg_type="Cancel")))


async def test_revision_not_above_the_referenced_one_is_refused(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    alert_env = signed(alert)
    await assert_accepted(api, alert_env)
    same = follow_up(alert, alert_env, revision=1)
    result = await assert_refused(api, registered, signed(same), "STALE_REVISION")
    assert "not greater than the referenced revision 1" in result["message"]


async def test_duplicate_is_idempotent_and_returns_the_original_seq(
    api: HubApi, registered: HubState
) -> None:
    envelope = signed(make_notice())
    first = await assert_accepted(api, envelope)
    await assert_accepted(api, signed(make_notice()))
    totals = await hub_totals(registered)
    again = await api.publish(envelope)
    assert again["__typename"] == "PublishAccepted"
    assert again["duplicate"] is True
    assert (again["seq"], again["receipt"], again["digest"]) == (
        first["seq"],
        first["receipt"],
        first["digest"],
    )
    assert await hub_totals(registered) == totals


async def test_equivocation_is_refused_with_an_alarm_in_log_and_table(
    api: HubApi, registered: HubState, caplog: pytest.LogCaptureFixture
) -> None:
    notice = make_notice()
    original = await assert_accepted(api, signed(notice))
    forged = dict(notice, content={"ja": {"headline": "差し替え", "body": "別の内容です"}})
    forged_env = signed(forged)
    with caplog.at_level(logging.WARNING):
        result = await assert_refused(api, registered, forged_env, "EQUIVOCATION")
    assert f"seq {original['seq']}" in result["message"]
    async with registered.transaction() as session:
        [alarm] = (await session.scalars(sa.select(Alarm))).all()
    assert alarm.kind == "EQUIVOCATION"
    assert (alarm.publisher_id, alarm.notice_id, alarm.kid) == (
        "gov-cfa",
        notice["notice_id"],
        "gov-cfa/2026a",
    )
    assert alarm.stored_digest == original["digest"]
    assert alarm.received_digest == digest(forged_env.payload_bytes())
    assert (alarm.protected, alarm.payload, alarm.signature) == (
        forged_env.protected,
        forged_env.payload,
        forged_env.signature,
    )
    [line] = [r for r in caplog.records if "EQUIVOCATION" in r.getMessage()]
    assert line.levelno == logging.WARNING
    assert "差し替え" not in line.getMessage()  # evidence goes to the table, not to the log


@pytest.mark.parametrize("status", ["Test", "Exercise"])
async def test_test_and_exercise_notices_are_accepted_and_stored_with_their_status(
    api: HubApi, registered: HubState, status: str
) -> None:
    notice = make_notice(status=status)
    accepted = await assert_accepted(api, signed(notice))
    async with registered.transaction() as session:
        row = await PublisherRepository(session).get_notice("gov-cfa", notice["notice_id"])
    assert row is not None
    assert (row.seq, row.status) == (accepted["seq"], status)
