"""The three phase stacks as the engine would report them to the pack: after an update, and in the
preview that creates them. Plans are shared with the infra tests (one mocked run per stack a session)."""

from __future__ import annotations

import copy
from typing import Any

from policy.configure import budget_block
from tests.infra.conftest import planned, stack_config
from tests.policy.engine import EngineResource, from_plan, from_plan_as_preview

_KNOWN: dict[str, list[EngineResource]] = {}
_PREVIEW: dict[str, list[EngineResource]] = {}


def known(phase: str) -> list[EngineResource]:
    """The stack after an update: every value known (a fresh copy each call; tests may change it)."""
    if phase not in _KNOWN:
        _KNOWN[phase] = from_plan(planned(phase), phase, stack_config(phase).region)
    return copy.deepcopy(_KNOWN[phase])


def preview(phase: str) -> list[EngineResource]:
    """The preview that creates the stack: ids, computed outputs and what depends on them unknown."""
    if phase not in _PREVIEW:
        _PREVIEW[phase] = from_plan_as_preview(planned(phase), phase, stack_config(phase).region)
    return copy.deepcopy(_PREVIEW[phase])


def budget_config(phase: str, **changes: Any) -> dict[str, Any]:
    """The pack config of a phase (its stack file's budget and usage), with top-level keys replaced."""
    return {**budget_block(stack_config(phase)), **changes}
