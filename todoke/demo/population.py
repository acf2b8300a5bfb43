"""A deterministic synthetic population shaped like Yatomi (弥富市, ~43,000 people).

One CSV row per household (the resident record of its head), in the node's import format:
``resident_id,household,child_birth_dates,district,programs,line_user_id``. Sizes follow
``shared/domain/WELFARE.md``: ~18,000 households, ~280 receiving 児童扶養手当 as single-parent
households, children of every age. About a third of households are LINE friends of the city's
account and linked to their record (ID連携 carried over from a previous system); their LINE user
ids are the sandbox's deterministic simulated ids, so the sandbox can make them follow.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

DISTRICTS = ("弥富", "十四山", "鍋田", "大藤", "栄南", "白鳥", "日の出", "桜")
HEADER = ("resident_id", "household", "child_birth_dates", "district", "programs", "line_user_id")


@dataclass
class PopulationSummary:
    households: int = 0
    linked: int = 0
    by_household: Counter[str] = field(default_factory=Counter)
    by_program: Counter[str] = field(default_factory=Counter)
    linked_by_household: Counter[str] = field(default_factory=Counter)
    children: int = 0


def _birth_date(rng: random.Random, today: date, min_years: float, max_years: float) -> date:
    days = rng.randint(int(min_years * 365.25), int(max_years * 365.25))
    return today - timedelta(days=days)


def _children(rng: random.Random, today: date, count: int) -> list[date]:
    return sorted(_birth_date(rng, today, 0, 17.9) for _ in range(count))


def _household(rng: random.Random, today: date) -> tuple[list[str], list[date], list[str]]:
    """Household types, children's birth dates and program enrolments of one household."""
    roll = rng.random()
    if roll < 0.0140:  # ≈ 250 of 18,000: single-parent households receiving 児童扶養手当
        kids = _children(rng, today, rng.choice((1, 1, 2, 2, 3)))
        programs = ["jido-fuyo-teate", "jido-teate", "hitorioya-iryo"]
        if rng.random() < 0.05:
            programs.append("aichi-iji-teate")
        return ["single_parent", "child_rearing"], kids, programs
    if roll < 0.0156:  # ≈ 30 more single parents above its income limit (≈ 280 in all)
        return (
            ["single_parent", "child_rearing"],
            _children(rng, today, rng.choice((1, 2))),
            ["jido-teate"],
        )
    if roll < 0.22:
        kids = _children(rng, today, rng.choice((1, 1, 2, 2, 2, 3)))
        types = ["child_rearing"]
        if rng.random() < 0.04:
            types.append("pregnant")
        return types, kids, ["jido-teate"]
    if roll < 0.23:
        return ["pregnant"], [], []
    if roll < 0.52:
        types = ["elderly"]
        if rng.random() < 0.12:
            types.append("disability")
        return types, [], []
    if roll < 0.55:
        return ["disability"], [], []
    return [], [], []


def write_population(
    path: Path,
    *,
    households: int,
    today: date,
    linked_share: float,
    user_id_for: Callable[[int], str],
    seed: int = 23235,
) -> PopulationSummary:
    """Write the CSV and return what it holds. ``user_id_for(n)`` gives the n-th linked user id."""
    rng = random.Random(seed)
    summary = PopulationSummary()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number in range(1, households + 1):
            types, kids, programs = _household(rng, today)
            linked = rng.random() < linked_share
            user_id = user_id_for(summary.linked) if linked else ""
            writer.writerow(
                (
                    f"R{number:07d}",
                    ";".join(types),
                    ";".join(kid.isoformat() for kid in kids),
                    rng.choice(DISTRICTS),
                    ";".join(programs),
                    user_id,
                )
            )
            summary.households += 1
            summary.children += len(kids)
            for kind in types or ["none"]:
                summary.by_household[kind] += 1
                if linked:
                    summary.linked_by_household[kind] += 1
            summary.by_program.update(programs)
            if linked:
                summary.linked += 1
    return summary
