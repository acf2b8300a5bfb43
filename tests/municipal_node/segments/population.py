"""A small population for segment tests: friends, preferences and resident records, written
the way the node writes them (follow events, 受信設定, the resident CSV import)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from municipal_node.db.engine import unit_of_work
from municipal_node.line import repository as line_repository
from municipal_node.line.preferences import seal_household
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT, write_csv


def uid(n: int) -> str:
    return "U" + f"{n:032x}"


async def befriend(
    node: Node,
    users: Iterable[str],
    *,
    friend: bool = True,
    at_ms: int = 1_000,
    tenant: str = TENANT,
) -> None:
    """Follow (or unfollow) events at LINE time ``at_ms``."""
    async with unit_of_work(node.sessions) as session:
        await line_repository.set_friendships(
            session,
            tenant_code=tenant,
            changes=dict.fromkeys(users, (friend, at_ms)),
            now=node.clock.now(),
        )


async def prefer(
    node: Node,
    user: str,
    *,
    topics: Iterable[str] = (),
    stopped: bool = False,
    declared: tuple[str, ...] = (),
    tenant: str = TENANT,
) -> None:
    async with unit_of_work(node.sessions) as session:
        await line_repository.save_preference(
            session,
            tenant_code=tenant,
            user_id=user,
            topics=list(topics),
            stopped=stopped,
            declared_sealed=seal_household(
                node.sealer, tenant_code=tenant, user_id=user, household=declared
            ),
            now=node.clock.now(),
        )


#: resident records: (resident_id, household, child_birth_dates, district, programs, user)
RESIDENTS = [
    ("R1", "single_parent", "2019-05-01", "東町", "jido-fuyo-teate", uid(1)),
    ("R2", "elderly", "", "西町", "", uid(2)),
    ("R5", "single_parent", "", "東町", "", uid(5)),
    ("R6", "single_parent", "", "東町", "", uid(6)),
    ("R7", "child_rearing", "2020-06-15", "東町", "", uid(7)),
    ("R8", "single_parent", "", "東町", "", ""),
]


async def small_town(node: Node, tmp_path: Path) -> None:
    """On 2026-04-01 (JST):

    - U1 friend, linked R1: single parent, child born 2019-05-01 (83 months, es1), 東町,
      enrolled in jido-fuyo-teate; topics single_parent + child_rearing
    - U2 friend, linked R2: elderly, 西町; topic elderly
    - U3 friend, not linked, DECLARED single parent; topic single_parent
    - U4 friend, not linked, no 受信設定
    - U5 friend, linked R5 (single parent, 東町) but STOPPED everything
    - U6 UNFOLLOWED, linked R6 (single parent, 東町)
    - U7 friend, linked R7: child rearing, child born 2020-06-15 (69 months, es1_entrant), 東町;
      topic child_rearing
    - R8 single parent in 東町 without LINE
    """
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "town.csv", RESIDENTS))
    await befriend(node, [uid(n) for n in (1, 2, 3, 4, 5, 7)])
    await befriend(node, [uid(6)], friend=False, at_ms=2_000)
    await prefer(node, uid(1), topics=["single_parent", "child_rearing"])
    await prefer(node, uid(2), topics=["elderly"])
    await prefer(node, uid(3), topics=["single_parent"], declared=("single_parent",))
    await prefer(node, uid(5), topics=["single_parent"], stopped=True)
    await prefer(node, uid(7), topics=["child_rearing"])
