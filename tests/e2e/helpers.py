"""Small helpers for the end-to-end tests: residents CSV, signing and publishing, waiting."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from contracts.jws import SignedEnvelope, sign
from contracts.keys import load_private_key_pem
from line_sandbox.residents import simulated_user_id
from tests.e2e.conftest import CHANNEL

PUBLISH = """
mutation Publish($envelope: SignedEnvelopeInput!) {
  publishNotice(envelope: $envelope) {
    __typename
    ... on PublishAccepted { seq digest duplicate }
    ... on PublishRejected { code message }
  }
}
"""


def write_residents(path: Path, rows: list[tuple[str, str, str, str, str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            (
                "resident_id",
                "household",
                "child_birth_dates",
                "district",
                "programs",
                "line_user_id",
            )
        )
        writer.writerows(rows)


def mixed_population(path: Path) -> set[str]:
    """120 households of four kinds, 80 % linked, plus 10 linked single parents who are not friends.

    Returns the LINE user ids that a single-parent notice must reach: linked single-parent
    households whose user is a friend. Connect with ``FRIENDS`` users following and
    ``NOT_FRIENDS`` (users 200..209, linked single parents) blocking the account again.
    """
    rows = []
    expected = set()
    kinds = (
        ("single_parent;child_rearing", "2016-05-01;2020-01-15", "jido-fuyo-teate;jido-teate"),
        ("child_rearing", "2019-09-09", "jido-teate"),
        ("elderly", "", ""),
        ("", "", ""),
    )
    for index in range(120):
        household, births, programs = kinds[index % 4]
        linked = index % 5 != 4
        user_id = simulated_user_id(CHANNEL, index) if linked else ""
        rows.append((f"R{index:05d}", household, births, "弥富", programs, user_id))
        if linked and index % 4 == 0:
            expected.add(user_id)
    for index in range(200, 210):  # linked single parents whose users never followed
        rows.append(
            (
                f"R{index:05d}",
                kinds[0][0],
                kinds[0][1],
                "鍋田",
                kinds[0][2],
                simulated_user_id(CHANNEL, index),
            )
        )
    write_residents(path, rows)
    return expected


def signed(notice: dict[str, Any], key_path: Path, kid: str) -> SignedEnvelope:
    return sign(
        notice,
        typ="todoke-notice+jws",
        kid=kid,
        private_key=load_private_key_pem(key_path.read_bytes()),
    )


def publish(hub_url: str, envelope: SignedEnvelope) -> dict[str, Any]:
    response = httpx.post(
        f"{hub_url}/graphql",
        json={"query": PUBLISH, "variables": {"envelope": envelope.model_dump()}},
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["publishNotice"]
    return result


def wait_until(
    what: str, check: Callable[[], bool], timeout: float = 120.0, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def inbox_counts(fed: Any, user_ids: list[str]) -> dict[str, int]:
    """Notices each user received (replies — the greeting on follow — are not notices)."""
    counts = {}
    for user_id in user_ids:
        inbox = fed.sandbox_get(f"/sandbox/channels/{CHANNEL}/inbox?user_id={user_id}")
        counts[user_id] = sum(item["endpoint"] != "reply" for item in inbox["messages"])
    return counts


FRIENDS = 210
NOT_FRIENDS = tuple(simulated_user_id(CHANNEL, index) for index in range(200, 210))


def all_user_ids() -> list[str]:
    return [simulated_user_id(CHANNEL, index) for index in [*range(130), *range(200, 210)]]
