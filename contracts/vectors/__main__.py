"""``python -m contracts.vectors [--check]``."""

from __future__ import annotations

import argparse
import sys

from contracts.vectors import VECTORS_FILE, build_vectors, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.vectors")
    parser.add_argument("--check", action="store_true", help="exit 1 if vectors.json is stale")
    args = parser.parse_args(argv)
    text = render(build_vectors())
    current = VECTORS_FILE.read_text("utf-8") if VECTORS_FILE.is_file() else None
    if args.check:
        if current != text:
            sys.stderr.write(f"stale: {VECTORS_FILE} (run python -m contracts.vectors)\n")
            return 1
        return 0
    if current != text:
        VECTORS_FILE.write_text(text, "utf-8")
        sys.stderr.write(f"wrote {VECTORS_FILE}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
