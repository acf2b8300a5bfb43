"""``stream_recipients`` / ``count_recipients``: the segment semantics H6 sends with."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from contracts.notice import Audience
from municipal_node.db.engine import unit_of_work
from municipal_node.line.models import FriendPreference
from municipal_node.residents.models import Resident
from municipal_node.segments import (
    LocalCriteria,
    Recipient,
    SegmentSpec,
    StreamStats,
    count_recipients,
    stream_recipients,
)
from municipal_node.segments.spec import narrow
from municipal_node.segments.stream import stream_user_ids
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.segments.population import befriend, small_town, uid

ON = date(2026, 4, 1)


async def recipients(
    node: Node, spec: SegmentSpec, *, page_size: int = 1000, after: str | None = None
) -> list[list[Recipient]]:
    async with node.sessions() as session:
        return [
            page
            async for page in stream_recipients(
                session,
                sealer=node.sealer,
                tenant_code=TENANT,
                spec=spec,
                on=ON,
                after=after,
                page_size=page_size,
            )
        ]


async def matching(node: Node, spec: SegmentSpec) -> set[int]:
    users = {r.user_id for page in await recipients(node, spec) for r in page}
    async with node.sessions() as session:
        counted = await count_recipients(
            session, sealer=node.sealer, tenant_code=TENANT, spec=spec, on=ON
        )
    assert counted == len(users)
    return {int(user[1:], 16) for user in users}


#: (spec, the users it reaches) in small_town on 2026-04-01
SEMANTICS: list[tuple[dict[str, Any], set[int]]] = [
    ({}, {1, 2, 3, 4, 7}),
    ({"household": ["single_parent"]}, {1, 3}),
    ({"household": ["single_parent"], "linked_only": True}, {1}),
    ({"household": ["elderly", "child_rearing"]}, {2, 7}),
    ({"linked_only": True}, {1, 2, 7}),
    ({"districts": ["東町"]}, {1, 7}),
    ({"districts": ["西町", "北町"]}, {2}),
    ({"interests": ["ひとり親支援"]}, {1, 3}),
    ({"interests": ["child_rearing", "elderly"]}, {1, 2, 7}),
    ({"interests": ["single_parent"], "districts": ["東町"]}, {1}),
    ({"programs": ["jido-fuyo-teate"]}, {1}),
    ({"child_age_months": {"min": 0, "max": 70}}, {7}),
    ({"child_age_months": {"min": 83, "max": 83}}, {1}),
    ({"school_grade": ["es1"]}, {1}),
    ({"school_grade": ["es1_entrant"]}, {7}),
    ({"school_grade": ["kindergarten", "es1"]}, {1, 7}),
    ({"household": ["single_parent"], "school_grade": ["es1"]}, {1}),
    ({"household": ["pregnant"]}, set()),
]


async def test_a_spec_reaches_exactly_the_current_friends_it_describes(
    node: Node, tmp_path: Path
) -> None:
    await small_town(node, tmp_path)
    for spec, expected in SEMANTICS:
        assert await matching(node, SegmentSpec.model_validate(spec)) == expected, spec


async def test_stopped_and_unfollowed_friends_are_never_included(
    node: Node, tmp_path: Path
) -> None:
    await small_town(node, tmp_path)
    # U5 stopped and U6 unfollowed are single parents in 東町 with a linked record
    spec = SegmentSpec(household=["single_parent"], districts=["東町"])
    assert await matching(node, spec) == {1}
    await befriend(node, [uid(6)], at_ms=3_000)  # U6 follows again: now included
    assert await matching(node, spec) == {1, 6}


async def test_a_spec_without_sealed_criteria_decrypts_nothing(node: Node, tmp_path: Path) -> None:
    await small_town(node, tmp_path)
    async with unit_of_work(node.sessions) as session:  # every sealed blob is now garbage
        await session.execute(update(Resident).values(sealed=b"\x01" + b"garbage" * 10))
        await session.execute(
            update(FriendPreference)
            .where(FriendPreference.declared_sealed.is_not(None))
            .values(declared_sealed=b"garbage")
        )
    for spec, expected in (
        (SegmentSpec(), 5),
        (SegmentSpec(linked_only=True), 3),
        (SegmentSpec(districts=["東町"]), 2),
        (SegmentSpec(interests=["single_parent"]), 2),
    ):
        stats = StreamStats()
        async with node.sessions() as session:
            pages = [
                page
                async for page in stream_recipients(
                    session,
                    sealer=node.sealer,
                    tenant_code=TENANT,
                    spec=spec,
                    on=ON,
                    page_size=2,
                    stats=stats,
                )
            ]
            counted = await count_recipients(
                session, sealer=node.sealer, tenant_code=TENANT, spec=spec, on=ON
            )
        assert sum(len(page) for page in pages) == counted == expected
        assert (stats.decrypted, stats.unreadable) == (0, 0)
        assert all(r.household == () for page in pages for r in page)
    # a sealed criterion must decrypt: the garbage never matches, and is counted
    stats = StreamStats()
    async with node.sessions() as session:
        counted = await count_recipients(
            session,
            sealer=node.sealer,
            tenant_code=TENANT,
            spec=SegmentSpec(household=["single_parent"]),
            on=ON,
            stats=stats,
        )
    assert counted == 0
    assert stats.unreadable == stats.decrypted == 4  # U1 U2 U7 records and U3's declaration


async def test_pages_come_in_user_id_order_and_resume_after_a_given_user(
    node: Node, tmp_path: Path
) -> None:
    await small_town(node, tmp_path)
    await befriend(node, [uid(n) for n in range(100, 112)])  # 12 more friends, no record
    pages = await recipients(node, SegmentSpec(), page_size=5)
    assert [len(page) for page in pages] == [5, 5, 5, 2]
    users = [r.user_id for page in pages for r in page]
    assert users == sorted(users)
    assert len(users) == len(set(users)) == 17
    resumed = await recipients(node, SegmentSpec(), page_size=5, after=users[6])
    assert [r.user_id for page in resumed for r in page] == users[7:]
    # with sealed criteria pages hold only matches, still ordered and resumable
    spec = SegmentSpec(household=["single_parent", "elderly", "child_rearing"])
    sealed_pages = await recipients(node, spec, page_size=2)
    assert [r.user_id for page in sealed_pages for r in page] == [uid(1), uid(2), uid(3), uid(7)]
    later = await recipients(node, spec, page_size=2, after=uid(2))
    assert [r.user_id for page in later for r in page] == [uid(3), uid(7)]


async def test_recipients_carry_household_types_only_when_decrypted(
    node: Node, tmp_path: Path
) -> None:
    await small_town(node, tmp_path)
    spec = SegmentSpec(household=["single_parent", "elderly"])
    found = {r.user_id: r.household for page in await recipients(node, spec) for r in page}
    assert found == {uid(1): ("single_parent",), uid(2): ("elderly",), uid(3): ("single_parent",)}
    plain = {r.user_id: r.household for page in await recipients(node, SegmentSpec()) for r in page}
    assert set(plain.values()) == {()}


async def test_other_tenants_friends_and_records_are_never_reached(
    node: Node, tmp_path: Path
) -> None:
    await small_town(node, tmp_path)
    await node.add_tenant(code="23100")
    await befriend(node, [uid(50)], tenant="23100")
    assert await matching(node, SegmentSpec()) == {1, 2, 3, 4, 7}


def test_an_audience_becomes_a_spec_and_unknown_topics_match_nobody() -> None:
    audience = Audience.model_validate(
        {"household": ["single_parent"], "interests": ["子育て", "pets"], "programs": ["a-b"]}
    )
    spec = SegmentSpec.from_audience(audience)
    assert spec.household == ["single_parent"]
    assert spec.interests == ["child_rearing", "pets"]  # "pets" is no topic here: nobody
    assert SegmentSpec.from_json(spec.to_json()) == spec


async def test_narrowing_by_local_criteria_is_an_and(node: Node, tmp_path: Path) -> None:
    await small_town(node, tmp_path)
    base = SegmentSpec(household=["single_parent", "child_rearing"])
    assert await matching(node, base) == {1, 3, 7}
    assert await matching(node, narrow(base, LocalCriteria(districts=["東町"]))) == {1, 7}
    assert await matching(node, narrow(base, LocalCriteria(linked_only=True))) == {1, 7}
    assert await matching(node, narrow(base, LocalCriteria(interests=["子育て"]))) == {1, 7}
    west = narrow(SegmentSpec(districts=["東町"]), LocalCriteria(districts=["西町"]))
    assert west.districts == []
    assert await matching(node, west) == set()
    assert SegmentSpec.from_json(west.to_json()) == west


async def test_the_planners_id_stream_equals_the_recipient_stream_page_by_page(
    node: Node, tmp_path: Path
) -> None:
    """``stream_user_ids`` (one aggregated text value per page) reaches exactly who
    ``stream_recipients`` reaches, in the same order and pages, and resumes the same way."""
    await small_town(node, tmp_path)
    await befriend(node, [uid(n) for n in range(100, 112)])
    for spec_json, _ in SEMANTICS:
        spec = SegmentSpec.model_validate(spec_json)
        if spec.has_sealed_criteria:
            continue
        for after in (None, uid(3)):
            expected = [
                [r.user_id for r in page]
                for page in await recipients(node, spec, page_size=4, after=after)
            ]
            async with node.sessions() as session:
                got = [
                    page
                    async for page in stream_user_ids(
                        session, tenant_code=TENANT, spec=spec, after=after, page_size=4
                    )
                ]
            assert got == expected, (spec_json, after)
    with_sealed = SegmentSpec(household=["single_parent"])
    async with node.sessions() as session:
        with pytest.raises(ValueError, match="sealed criteria"):
            await anext(stream_user_ids(session, tenant_code=TENANT, spec=with_sealed, page_size=4))
