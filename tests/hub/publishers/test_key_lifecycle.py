"""Publisher key lifecycle through the GraphQL API: validity window, rotation overlap,
revocation (new notices refused, earlier ones stay verifiable), and the published key set."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.errors import ContractError, RejectionCode
from contracts.jws import SignedEnvelope
from contracts.keys import private_key_from_seed
from contracts.receipt import Receipt
from contracts.verify import KeySetLookup, verify_keyset, verify_notice, verify_receipt
from hub.publishers.registry import RegistryError, revoke_key
from hub.state import HubState
from tests.hub.conftest import register
from tests.hub.helpers import (
    CFA_KID,
    NOW,
    ROOT_KEY,
    ROOT_KID,
    FixedClock,
    HubApi,
    cfa_key,
    make_notice,
    signed,
)
from tests.hub.publishers.lifecycle_helpers import assert_accepted, assert_refused

NEW_KID = "gov-cfa/2027a"
NEW_KEY = private_key_from_seed(bytes(range(100, 132)))


def stamp(at: object) -> str:
    return str(at).replace("+00:00", "Z").replace(" ", "T")


def notice_sent_at(sent: object) -> dict[str, object]:
    return make_notice(sent=stamp(sent))


async def test_key_used_before_not_before_is_key_not_valid(
    api: HubApi, hub_state: HubState
) -> None:
    await register(hub_state, cfa_key(not_before=NOW + timedelta(days=2)))
    await assert_refused(api, hub_state, signed(make_notice()), "KEY_NOT_VALID")


async def test_key_used_at_or_after_not_after_is_key_not_valid(
    api: HubApi, hub_state: HubState, clock: FixedClock
) -> None:
    await register(
        hub_state, cfa_key(not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=1))
    )
    clock.advance(timedelta(days=1))  # now == not_after: sent < not_after no longer holds
    await assert_refused(api, hub_state, signed(notice_sent_at(clock.now())), "KEY_NOT_VALID")


async def test_rotation_both_keys_verify_in_the_overlap_then_only_the_new(
    api: HubApi, hub_state: HubState, clock: FixedClock
) -> None:
    await register(hub_state, cfa_key(not_after=NOW + timedelta(days=40)))
    await register(
        hub_state,
        cfa_key(
            kid=NEW_KID, key=NEW_KEY, name=None, not_before=NOW, not_after=NOW + timedelta(days=400)
        ),
    )
    clock.advance(timedelta(minutes=10))
    old = await assert_accepted(api, signed(notice_sent_at(clock.now())))
    new = await assert_accepted(api, signed(notice_sent_at(clock.now()), kid=NEW_KID, key=NEW_KEY))
    assert (old["seq"], new["seq"]) == (1, 2)

    clock.advance(timedelta(days=41))  # the old key has ended
    await assert_refused(api, hub_state, signed(notice_sent_at(clock.now())), "KEY_NOT_VALID")
    await assert_accepted(api, signed(notice_sent_at(clock.now()), kid=NEW_KID, key=NEW_KEY))

    # the key set lists both; a node verifies the notice the old key signed in the overlap
    keyset = verify_keyset(
        await api.key_set(), root_keys={ROOT_KID: ROOT_KEY.public_key()}, now=clock.now()
    )
    assert sorted(entry.kid for entry in keyset.keys) == [CFA_KID, NEW_KID]


async def test_revoked_key_refuses_new_notices_but_earlier_ones_stay_valid(
    api: HubApi, registered: HubState, clock: FixedClock
) -> None:
    before = signed(make_notice())
    accepted = await assert_accepted(api, before)

    clock.advance(timedelta(hours=1))
    async with registered.transaction() as session:
        revocation = await revoke_key(session, kid=CFA_KID, now=clock.now())
    assert revocation.revoked_at == clock.now()

    after = signed(notice_sent_at(clock.now() - timedelta(minutes=1)))
    result = await assert_refused(api, registered, after, "KEY_REVOKED")
    assert CFA_KID in result["message"]
    # back-dating `sent` does not help a stolen key: the hub checks revocation at receipt
    await assert_refused(api, registered, signed(make_notice()), "KEY_REVOKED")

    # The earlier notice is still what the hub relays, and still verifies at a node with the
    # published key set (which now carries revoked_at) against its receipt's received_at.
    page = await api.feed()
    assert [item["seq"] for item in page["items"]] == [accepted["seq"]]
    assert page["lastSeq"] == accepted["seq"]
    assert SignedEnvelope(**page["items"][0]["envelope"]) == before
    keyset = verify_keyset(
        await api.key_set(), root_keys={ROOT_KID: ROOT_KEY.public_key()}, now=clock.now()
    )
    [entry] = [e for e in keyset.keys if e.kid == CFA_KID]
    assert entry.revoked_at == clock.now()
    receipt: Receipt = verify_receipt(
        SignedEnvelope(**accepted["receipt"]), root_keys={ROOT_KID: ROOT_KEY.public_key()}
    )
    assert receipt.seq == accepted["seq"]
    assert receipt.received_at == NOW
    verified = verify_notice(
        before, keys=KeySetLookup(keyset), received_at=receipt.received_at, now=clock.now()
    )
    assert verified.notice.notice_id == accepted["noticeId"]
    with pytest.raises(ContractError) as caught:  # the same notice received after: refused
        verify_notice(before, keys=KeySetLookup(keyset), received_at=clock.now(), now=clock.now())
    assert caught.value.code == RejectionCode.KEY_REVOKED

    # a retry of the accepted envelope after the revocation is refused too: the signature
    # can no longer be checked as of now (the original seq and receipt stay in the feed)
    await assert_refused(api, registered, before, "KEY_REVOKED")


async def test_revocation_is_idempotent_never_back_dated_never_postponed(
    registered: HubState, clock: FixedClock
) -> None:
    later = NOW + timedelta(days=3)
    async with registered.transaction() as session:
        with pytest.raises(RegistryError, match="cannot be back-dated"):
            await revoke_key(session, kid=CFA_KID, at=NOW - timedelta(seconds=1), now=NOW)
        scheduled = await revoke_key(session, kid=CFA_KID, at=later, now=NOW)
        assert (scheduled.revoked_at, scheduled.changed) == (later, True)
        postponed = await revoke_key(session, kid=CFA_KID, at=later + timedelta(days=1), now=NOW)
        assert (postponed.revoked_at, postponed.changed) == (later, False)
        forward = await revoke_key(session, kid=CFA_KID, at=NOW + timedelta(days=1), now=NOW)
        assert (forward.revoked_at, forward.changed) == (NOW + timedelta(days=1), True)
        again = await revoke_key(session, kid=CFA_KID, now=NOW + timedelta(days=2))
        assert (again.revoked_at, again.changed) == (NOW + timedelta(days=1), False)
        with pytest.raises(RegistryError, match="not registered"):
            await revoke_key(session, kid="gov-cfa/none", now=NOW)


async def test_scheduled_revocation_takes_effect_at_its_time(
    api: HubApi, registered: HubState, clock: FixedClock
) -> None:
    async with registered.transaction() as session:
        await revoke_key(session, kid=CFA_KID, at=NOW + timedelta(hours=2), now=NOW)
    await assert_accepted(api, signed(make_notice()))
    clock.advance(timedelta(hours=2))
    await assert_refused(api, registered, signed(notice_sent_at(clock.now())), "KEY_REVOKED")


async def test_key_set_changes_at_once_when_the_registry_changes(
    api: HubApi, registered: HubState, clock: FixedClock
) -> None:
    first = await api.key_set()
    assert await api.key_set() == first  # cached while nothing changed
    await register(registered, cfa_key(kid=NEW_KID, key=NEW_KEY, name=None))
    added = await api.key_set()
    assert added != first
    keyset = verify_keyset(added, root_keys={ROOT_KID: ROOT_KEY.public_key()}, now=clock.now())
    assert NEW_KID in {entry.kid for entry in keyset.keys}
    async with registered.transaction() as session:
        await revoke_key(session, kid=NEW_KID, now=clock.now())
    revoked = verify_keyset(
        await api.key_set(), root_keys={ROOT_KID: ROOT_KEY.public_key()}, now=clock.now()
    )
    assert {e.kid: e.revoked_at for e in revoked.keys}[NEW_KID] == clock.now()
    assert keyset.valid_until - keyset.issued_at <= timedelta(days=7)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"area": ["13"]}, "other prefecture"),
        ({"area": ["23235", "13101"]}, "one area outside"),
        ({"category": "health"}, "category outside"),
    ],
)
async def test_outside_scope_is_scope_denied(
    api: HubApi, hub_state: HubState, changes: dict[str, object], why: str
) -> None:
    await register(hub_state, cfa_key(areas=["23"], categories=["benefit"]))
    await assert_refused(api, hub_state, signed(make_notice(**changes)), "SCOPE_DENIED")


async def test_key_set_is_re_signed_before_it_expires(
    api: HubApi, registered: HubState, clock: FixedClock
) -> None:
    roots = {ROOT_KID: ROOT_KEY.public_key()}
    first_envelope = await api.key_set()
    first = verify_keyset(first_envelope, root_keys=roots, now=clock.now())
    validity = first.valid_until - first.issued_at
    assert timedelta(0) < validity <= timedelta(days=7)
    clock.advance(validity / 2)  # a polling node gets a fresh one long before valid_until
    second = verify_keyset(await api.key_set(), root_keys=roots, now=clock.now())
    assert second.issued_at == clock.now()
    assert second.valid_until > first.valid_until
    with pytest.raises(ContractError) as caught:  # the old one is refused once expired
        verify_keyset(first_envelope, root_keys=roots, now=first.valid_until)
    assert caught.value.code == RejectionCode.KEY_NOT_VALID
