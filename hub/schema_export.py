"""Write the hub's GraphQL schema to ``hub/schema.graphql``; ``--check`` exits 1 when stale.

python -m hub.schema_export          # regenerate
python -m hub.schema_export --check  # CI: fail if the file differs from the code
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from strawberry.printer import print_schema

from hub.graphql.schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.graphql"


def render() -> str:
    return print_schema(build_schema()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.schema_export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--out", type=Path, default=SCHEMA_FILE)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.out} is stale: run `python -m hub.schema_export`\n")
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
