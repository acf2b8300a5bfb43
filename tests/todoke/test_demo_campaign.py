"""The demo's campaign scenario: the parts that must agree with the node and the services.

The scenario itself runs against real processes in ``make demo`` (CI); it takes longer than a
test should (the whole federation starts), so here: its clock file is the one the services'
``FileClock`` reads, its 年長 window is the node's ``es1_entrant``, its population has enough
such households and its notice is a valid contract notice with a campaign window.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from contracts.notice import Notice
from hub.clock import FileClock as HubFileClock
from line_sandbox.clock import FileClock as SandboxFileClock
from municipal_node.clock import FileClock as NodeFileClock
from municipal_node.segments.ages import grades_of
from todoke.demo.campaign import (
    ES1_BORN_FROM,
    ES1_BORN_TO,
    SIM_START,
    es1_entrant,
    linked_entrant_households,
    write_clock,
)
from todoke.demo.notices import NYUGAKU_CLOSES, NYUGAKU_OPENS, nyugaku_junbikin_notice
from todoke.demo.population import write_population


def test_the_three_services_read_the_clock_the_demo_writes(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    write_clock(path, SIM_START)
    for clock_type in (HubFileClock, NodeFileClock, SandboxFileClock):
        now = clock_type(path).now()
        assert SIM_START <= now < SIM_START + timedelta(minutes=5)
    later = NYUGAKU_OPENS + timedelta(minutes=1)
    node_clock = NodeFileClock(path)
    write_clock(path, later)
    assert node_clock.now() >= later


def test_the_demos_school_entrants_are_the_nodes_es1_entrant() -> None:
    for moment in (SIM_START, NYUGAKU_OPENS, NYUGAKU_CLOSES):
        on = moment.date()
        for born in (
            ES1_BORN_FROM - timedelta(days=1),
            ES1_BORN_FROM,
            date(2020, 10, 1),
            ES1_BORN_TO,
            ES1_BORN_TO + timedelta(days=1),
        ):
            assert es1_entrant([born]) == ("es1_entrant" in grades_of(born, on)), (born, on)


def test_the_default_population_has_enough_linked_school_entrants(tmp_path: Path) -> None:
    path = tmp_path / "residents.csv"
    write_population(
        path,
        households=18_000,
        today=SIM_START.date(),
        linked_share=0.35,
        user_id_for=lambda n: f"U{n:032x}",
    )
    households = linked_entrant_households(path)
    assert 100 <= len(households) <= 250  # enough for LINE insight (≥ 20) in every phase
    assert len(set(households.values())) == len(households)


def test_the_notice_is_a_campaign_for_school_entrants() -> None:
    notice = Notice.model_validate(nyugaku_junbikin_notice(SIM_START))
    assert notice.action is not None
    assert (notice.action.opens, notice.action.closes) == (NYUGAKU_OPENS, NYUGAKU_CLOSES)
    assert notice.audience.school_grade == ["es1_entrant"]
    assert notice.expires > NYUGAKU_CLOSES
