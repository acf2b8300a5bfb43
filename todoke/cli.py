"""Entry point of the ``todoke`` console script."""

from __future__ import annotations

import click

from todoke.commands.demo import demo_command
from todoke.commands.hub import hub_group, publish_command
from todoke.commands.keys import keys_group
from todoke.commands.node import node_group
from todoke.commands.sandbox import sandbox_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Todoke (届け): signed welfare notices from hub to municipal node to residents' LINE."""


main.add_command(keys_group)
main.add_command(hub_group)
main.add_command(publish_command)
main.add_command(node_group)
main.add_command(sandbox_group)
main.add_command(demo_command)
