"""Resident CSV import through the CLI code path (``todoke node import-residents``) on PostgreSQL.

Run: .venv/bin/python bench/import_residents.py [--rows 100000] [--database-url URL] [--workers N]

Writes a realistic CSV of N households (``todoke.demo.population``: household types, children,
programs, districts, about a third linked to a LINE user id) into a temporary directory, creates
a fresh database ``todoke_bench_import_<pid>`` on 127.0.0.1:5432 (user postgres) unless
``--database-url`` names one, registers a tenant, then times three imports, each through the
real click command in this process:

1. the first import (every row inserted);
2. the identical file again (nothing may change: 0 inserted / updated / removed);
3. a file with 1 % of the rows changed and 1 % removed.

Prints seconds and rows/s of each, the summary line the command printed, and this process's peak
RSS (``VmHWM`` from /proc/self/status). The database it created is dropped at the end.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import io
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg

from contracts.keys import private_key_from_seed, public_jwk
from todoke.cli import main as todoke_main
from todoke.demo.population import write_population

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TENANT = "23235"


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def fresh_database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    name = f"todoke_bench_import_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def user_id(number: int) -> str:
    return "U" + f"{number:032x}"


def changed_copy(source: Path, target: Path, *, seed: int = 7) -> tuple[int, int]:
    """Copy ``source`` with 1 % of the rows changed (district) and another 1 % left out."""
    rng = random.Random(seed)
    changed = removed = 0
    with (
        source.open(encoding="utf-8", newline="") as src,
        target.open("w", encoding="utf-8", newline="") as dst,
    ):
        reader = csv.reader(src)
        writer = csv.writer(dst)
        writer.writerow(next(reader))
        for row in reader:
            roll = rng.random()
            if roll < 0.01:
                removed += 1
                continue
            if roll < 0.02:
                row[3] = "新町" if row[3] != "新町" else "旧町"
                changed += 1
            writer.writerow(row)
    return changed, removed


def cli(*args: str) -> str:
    """Run ``todoke …`` in this process; return what it printed on stdout."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        try:
            todoke_main.main(args=list(args), prog_name="todoke", standalone_mode=False)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise RuntimeError(f"todoke {' '.join(args)} exited {exc.code}") from exc
    return captured.getvalue().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="todoke-bench-import-") as tmp:
        first = Path(tmp) / "residents.csv"
        started = time.perf_counter()
        summary = write_population(
            first,
            households=args.rows,
            today=date(2026, 4, 1),
            linked_share=0.35,
            user_id_for=user_id,
        )
        third = Path(tmp) / "residents-changed.csv"
        changed, removed = changed_copy(first, third)
        print(
            f"CSV: {summary.households:,} rows, {summary.linked:,} linked, "
            f"{first.stat().st_size / 1e6:.1f} MB; variant: {changed:,} changed, "
            f"{removed:,} removed ({time.perf_counter() - started:.1f} s to write)",
            flush=True,
        )
        with fresh_database(args.database_url) as url:
            os.environ["TODOKE_NODE_DATABASE_URL"] = url
            os.environ["TODOKE_NODE_ENCRYPTION_KEY"] = base64.b64encode(os.urandom(32)).decode()
            root = {"kid": "hub-bench/root1", "jwk": public_jwk(private_key_from_seed(bytes(32)))}
            cli("node", "migrate")
            cli(
                "node", "add-tenant", "--code", TENANT, "--name", "弥富市",
                "--hub-url", "http://127.0.0.1:9", "--hub-root-key", json.dumps(root),
                "--line-channel-secret", "bench", "--line-channel-token", "bench",
                "--hub-credential", "bench-credential-0123456789",
            )  # fmt: skip
            results: list[tuple[str, int, float, str]] = []
            for label, path in (
                ("first import", first),
                ("identical re-import", first),
                ("1 % changed, 1 % removed", third),
            ):
                rows = summary.households - (removed if path == third else 0)
                started = time.perf_counter()
                printed = cli("node", "import-residents", "--tenant", TENANT, str(path))
                seconds = time.perf_counter() - started
                results.append((label, rows, seconds, printed.splitlines()[-1]))
                print(f"{label}: {seconds:.2f} s", file=sys.stderr, flush=True)

    print()
    print(f"{'import':<28} {'rows':>9} {'seconds':>8} {'rows/s':>9}  command said")
    for label, rows, seconds, printed in results:
        print(f"{label:<28} {rows:>9,} {seconds:>8.2f} {rows / seconds:>9,.0f}  {printed}")
    print(f"peak RSS (VmHWM) of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
