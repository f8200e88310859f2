"""The commands of ``python -m budget`` and the parser that reads them.

Each command is a module of this package with ``add_arguments(parser)`` and ``run(args) -> exit code``.
The table below names them, so the parser imports only the module of the command being run: ``check``
(the pre-commit hook and the Pulumi program's guard) would otherwise pay for fit's search (about 0.35 s),
Jinja2 and the GitHub client on every run (measured with each module imported after check's own).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import NoReturn

from components.bounded_input import one_line

PROG = "python -m budget"
DESCRIPTION = (
    "Cost governance for the Pulumi stacks: price the planned stacks against their TZS limits (check), the"
    " change between two reports (diff), the pull request's cost comment (comment), an HTML report"
    " (report), the price catalog (prices), the cheapest plan that fits (fit) and the capacity model"
    " (capacity). `python -m budget COMMAND --help` for each."
)


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, the module that implements it, and its one-line help."""

    name: str
    help: str

    @property
    def module(self) -> str:
        return f"budget.cli.{self.name}"

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


COMMANDS = (
    Command("check", "price the planned stack(s) and judge them against their budget"),
    Command("diff", "cost change between two check reports (base vs head)"),
    Command("comment", "post or update the pull request's cost comment"),
    Command("report", "self-contained HTML cost report for every stack"),
    Command("prices", "show or refresh the price catalog"),
    Command("fit", "the cheapest configuration that carries a phase's users"),
    Command("capacity", "the capacity model: measured figures and what a server carries"),
)


def command_named(argv: Sequence[str]) -> Command | None:
    """The command ``argv`` runs: its first word (the top level takes no option with a value)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return next((c for c in COMMANDS if c.name == word), None)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 (argparse prints the whole usage block first):
    bad input to any command is one line a script or a person can read, ``--help`` has the rest."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def build_parser(command: Command | None) -> argparse.ArgumentParser:
    """The parser with every command listed and ``command``'s own options (its module sets ``run``)."""
    parser = OneLineParser(prog=PROG, description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for c in COMMANDS:
        p = sub.add_parser(c.name, help=c.help)
        if c == command:
            module = c.load()
            module.add_arguments(p)
            p.set_defaults(run=module.run)
    return parser
