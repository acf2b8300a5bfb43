"""Entry point of the ``todoke`` console script."""

from __future__ import annotations

import click

from todoke.commands.lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy={
        "keys": "todoke.commands.keys:keys_group",
        "hub": "todoke.commands.hub:hub_group",
        "publish": "todoke.commands.publish:publish_command",
        "node": "todoke.commands.node:node_group",
        "sandbox": "todoke.commands.sandbox:sandbox_group",
        "demo": "todoke.commands.demo:demo_command",
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
def main() -> None:
    """Todoke (届け): signed welfare notices from hub to municipal node to residents' LINE."""
