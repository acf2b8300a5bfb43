"""``python -m contracts.schemas [--check]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts.schemas import SCHEMA_DIR, stale_files, write_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.schemas")
    parser.add_argument("--check", action="store_true", help="exit 1 if a schema file is stale")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema directory")
    args = parser.parse_args(argv)
    directory: Path = args.dir
    if args.check:
        stale = stale_files(directory)
        for name in stale:
            sys.stderr.write(f"stale: {directory / name} (run python -m contracts.schemas)\n")
        return 1 if stale else 0
    for name in write_files(directory):
        sys.stderr.write(f"wrote {directory / name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
