"""The three phase stacks, and stacks with the options no phase uses yet, as the engine would report them
to the pack: after an update, and in the preview that creates them. Plans are shared with the infra tests
(one mocked run per stack a session)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from typing import Any

from components.config import StackConfig
from components.planning.mocks import Plan, plan
from policy.configure import budget_block
from tests.infra.conftest import planned, stack_config
from tests.infra.test_edge_options import config_of
from tests.infra.test_options import PUBLIC, RESERVED, combined
from tests.infra.test_phases import NO_WEBSOCKET_USAGE, TLS_DIRECT, variant
from tests.policy.engine import EngineResource, from_plan, from_plan_as_preview

_KNOWN: dict[str, list[EngineResource]] = {}
_PREVIEW: dict[str, list[EngineResource]] = {}

#: Stacks with the options no phase uses yet (name -> config), each read as a phase is.
OPTIONS: dict[str, Callable[[], StackConfig]] = {
    # the combined app tier, servers in the public subnets with a public IPv4 each, 1-year commitments
    # (with TLS on the load balancer for a domain: its group admits the internet on 80/443)
    "app-public-reserved": lambda: variant(
        combined(
            variant(
                stack_config("phase1"), network=PUBLIC, load_balancer=TLS_DIRECT, usage=NO_WEBSOCKET_USAGE
            ),
            **RESERVED,
        ),
        database=RESERVED,
    ),
    # an NLB with TLS, and /ws through CloudFront to it
    "nlb-tls-ws-cdn": lambda: config_of("ws-cdn-nlb-tls"),
    # a CloudFront flat-rate plan: its web ACL and subscription under an explicit us-east-1 provider
    "plan-business": lambda: config_of("plan-business"),
    # CloudFront split (what fit proposes without a domain): the assets on two Business plans, /ws and
    # the API on a pay-as-you-go distribution under a Security Savings Bundle
    "cdn-split": lambda: _cdn_split(),
}


def _cdn_split() -> StackConfig:
    from budget.demand import with_routed_usage

    data = stack_config("phase2").model_dump()
    data["cdn"].update(plan="business", asset_distributions=2, dynamic_distribution=True, savings_bundle=True)
    return with_routed_usage(StackConfig.model_validate(data))


@cache
def option_config(name: str) -> StackConfig:
    return OPTIONS[name]()


@cache
def _option_plan(name: str) -> Plan:
    return plan(option_config(name))


def stack_of(name: str) -> tuple[str, Plan, StackConfig]:
    """A phase's or an option's stack name (an option keeps its base phase's), mocked plan and config."""
    if name in OPTIONS:
        cfg = option_config(name)
        return cfg.stack, _option_plan(name), cfg
    return name, planned(name), stack_config(name)


def known(phase: str) -> list[EngineResource]:
    """The stack (a phase, or one of :data:`OPTIONS`) after an update: every value known (a fresh copy
    each call; tests may change it)."""
    if phase not in _KNOWN:
        stack, plan_, cfg = stack_of(phase)
        _KNOWN[phase] = from_plan(plan_, stack, cfg.region)
    return copy.deepcopy(_KNOWN[phase])


def preview(phase: str) -> list[EngineResource]:
    """The preview that creates the stack: ids, computed outputs and what depends on them unknown."""
    if phase not in _PREVIEW:
        stack, plan_, cfg = stack_of(phase)
        _PREVIEW[phase] = from_plan_as_preview(plan_, stack, cfg.region)
    return copy.deepcopy(_PREVIEW[phase])


def budget_config(phase: str, **changes: Any) -> dict[str, Any]:
    """The pack config of a stack (its config's budget and usage), with top-level keys replaced."""
    return {**budget_block(stack_of(phase)[2]), **changes}
