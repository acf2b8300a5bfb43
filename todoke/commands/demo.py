"""``todoke demo``: run the whole federation locally and print what reached whom."""

from __future__ import annotations

from pathlib import Path

import click

from todoke.demo.runner import DemoOptions, run_demo


@click.command("demo")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".todoke-demo"),
    show_default=True,
    help="Scratch folder for keys, SQLite databases and logs (emptied first).",
)
@click.option(
    "--households", type=click.IntRange(100, 2_000_000), default=18_000, show_default=True
)
@click.option("--linked-share", type=click.FloatRange(0, 1), default=0.35, show_default=True,
              help="Share of households that are LINE friends linked to their record.")  # fmt: skip
@click.option("--unlinked-friends", type=click.IntRange(0, 1_000_000), default=500, show_default=True,
              help="Friends of the account who have not linked a resident record.")  # fmt: skip
@click.option("--serve", is_flag=True, help="Keep everything running for a browser (Ctrl-C stops).")
@click.option(
    "--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for the relay."
)
def demo_command(
    workdir: Path,
    households: int,
    linked_share: float,
    unlinked_friends: int,
    serve: bool,
    timeout: float,
) -> None:
    """Sandbox + hub + node on loopback (SQLite): publish two signed notices and relay them to LINE."""
    run_demo(
        DemoOptions(
            workdir=workdir.resolve(),
            households=households,
            linked_share=linked_share,
            unlinked_friends=unlinked_friends,
            serve=serve,
            timeout=timeout,
        )
    )
