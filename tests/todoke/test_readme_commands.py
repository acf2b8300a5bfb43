"""Every command README.md shows is true: each ``todoke …`` line of its shell blocks names an
existing command and only options that command has, and each ``make X`` names a Makefile
target. (Whether the commands *work* is what the rest of the suite tests.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from todoke.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")


def _shell_lines() -> list[tuple[int, str]]:
    """(line number, command) of every logical line in README's sh/bash/console blocks and
    its 4-space indented blocks, continuation backslashes joined."""
    found: list[tuple[int, str]] = []
    fenced = in_block = False
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(README.read_text("utf-8").splitlines(), start=1):
        fence = FENCE.match(raw.strip())
        if fence:
            fenced = not fenced
            in_block = fenced and fence.group(1) in {"", "sh", "bash", "console", "shell"}
            continue
        if not in_block and (fenced or not raw.startswith("    ")):
            continue
        text = raw.strip()
        if pending is not None:
            start, before = pending
            text = f"{before} {text}"
            number = start
            pending = None
        if text.endswith("\\"):
            pending = (number, text[:-1].rstrip())
            continue
        if text:
            found.append((number, text))
    return found


def _words(line: str) -> list[str]:
    """The command's words, without a trailing comment, ``[optional …]`` groups or ``…``."""
    line = re.sub(r"\[[^\]]*\]", " ", line)
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote in an explanatory line
        words = line.split("#", 1)[0].split()
    return [w for w in words if w not in {"…", "..."}]


def todoke_lines() -> list[tuple[int, list[str]]]:
    lines = []
    for number, line in _shell_lines():
        words = _words(line)
        if words and words[0] in {"todoke", ".venv/bin/todoke"}:
            lines.append((number, words[1:]))
    return lines


def make_lines() -> list[tuple[int, str]]:
    return [
        (number, words[1])
        for number, line in _shell_lines()
        if len(words := _words(line)) >= 2 and words[0] == "make"
    ]


def _options(command: click.Command) -> set[str]:
    names: set[str] = set()
    for parameter in command.params:
        if isinstance(parameter, click.Option):
            names.update(parameter.opts)
            names.update(parameter.secondary_opts)
    names.update({"--help", "-h"})
    return names


def test_readme_shows_todoke_and_make_commands() -> None:
    """The parser finds the README's commands (so the checks below cannot pass empty)."""
    assert len(todoke_lines()) >= 60
    assert {target for _, target in make_lines()} >= {"demo", "test"}


@pytest.mark.parametrize(("number", "words"), todoke_lines(), ids=lambda v: str(v))
def test_each_todoke_line_names_a_real_command_and_its_options(
    number: int, words: list[str]
) -> None:
    command: click.Command = main
    path = ["todoke"]
    ctx = click.Context(main, info_name="todoke")
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        found = command.get_command(ctx, name)
        assert found is not None, f"README line {number}: `{' '.join(path)} {name}` does not exist"
        path.append(name)
        command = found
        ctx = click.Context(command, info_name=name, parent=ctx)
    assert not isinstance(command, click.Group), (
        f"README line {number}: `{' '.join(path)}` needs a subcommand"
    )
    known = _options(command)
    for word in rest:
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            assert option in known, (
                f"README line {number}: `{' '.join(path)}` has no option {option}"
            )


@pytest.mark.parametrize(("number", "target"), make_lines(), ids=lambda v: str(v))
def test_each_make_line_names_a_makefile_target(number: int, target: str) -> None:
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+):", (ROOT / "Makefile").read_text(), re.M))
    assert target in targets, f"README line {number}: `make {target}` is not a Makefile target"
