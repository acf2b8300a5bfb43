"""A click group whose subcommands are imported only when used.

Every ``todoke …`` invocation is a new Python process (the end-to-end tests and the demo run
dozens): importing the whole node, hub and sandbox for ``todoke keys generate`` cost ~2.5 s
of CPU each time. ``LazyGroup`` knows its commands as ``"module:attribute"`` and imports one
when it is looked up (``--help`` of the group imports all, to show their summaries).
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in self.lazy:
            return command
        module_name, _, attribute = self.lazy[cmd_name].partition(":")
        loaded = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(loaded, click.Command):
            raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
        self.add_command(loaded, cmd_name)
        return loaded
