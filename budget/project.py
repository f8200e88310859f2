"""The project's stack files: every ``Pulumi.<stack>.yaml`` in the project root, and the file a stack name
reads. ``check --all``, ``fit --all`` and ``report`` take their stacks from here."""

from __future__ import annotations

from pathlib import Path

from budget.parallel import stack_files
from components.config import stack_name_of

ROOT = Path(__file__).resolve().parents[1]


def all_stacks() -> list[tuple[str, Path]]:
    """Every ``Pulumi.<stack>.yaml`` of the project as (stack name, file), by name."""
    return [(stack_name_of(f), f) for f in stack_files(ROOT)]


def no_stacks() -> str:
    """What ``--all`` says when the project has no stack file."""
    return f"no Pulumi.<stack>.yaml files in {ROOT}"


def stack_file(stack: str) -> Path:
    """The file ``--stack NAME`` reads."""
    return ROOT / f"Pulumi.{stack}.yaml"
