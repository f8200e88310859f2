"""What would fit: the same rules on modified inputs (never invented numbers).

- spot: every auto-scaling group runs all instances on spot (mixed policy, no on-demand base), and every
  standalone instance is a spot instance;
- reserved: 1-year no-upfront reservations for the always-on baseline (EC2 min size and standalone
  instances, RDS, ElastiCache);
- graviton: t3 -> t4g, db.t3 -> db.t4g, cache.t3 -> cache.t4g (same size), in launch templates, group
  overrides and standalone instances alike;
- combined: graviton + spot + reserved (RDS and ElastiCache; EC2 is all spot).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from budget.capacity import Measured, Unmeasured
from budget.catalog import Catalog
from budget.estimator import Estimate, estimate
from budget.model import PlannedResource
from budget.rules import PricingOptions
from components.config import StackConfig

ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
GRAVITON = {"t3.": "t4g.", "db.t3.": "db.t4g.", "cache.t3.": "cache.t4g."}


@dataclass(frozen=True)
class WhatIf:
    key: str
    title: str
    estimate: Estimate


def _with_inputs(
    resource: PlannedResource, inputs: dict[str, Any], deps: dict[str, list[str]] | None = None
) -> PlannedResource:
    return replace(
        resource, inputs=inputs, property_dependencies=deps or dict(resource.property_dependencies)
    )


def all_spot(resources: Sequence[PlannedResource]) -> list[PlannedResource]:
    """Every group's instances on spot (a mixed-instances policy with no on-demand capacity), and every
    standalone instance a spot instance."""
    out = []
    for r in resources:
        if r.type == INSTANCE:
            inputs = copy.deepcopy(dict(r.inputs))
            market = inputs.get("instanceMarketOptions")
            inputs["instanceMarketOptions"] = {
                **(market if isinstance(market, dict) else {}),
                "marketType": "spot",
            }
            out.append(_with_inputs(r, inputs))
            continue
        if r.type != ASG:
            out.append(r)
            continue
        inputs = copy.deepcopy(dict(r.inputs))
        deps = {k: list(v) for k, v in r.property_dependencies.items()}
        mixed = inputs.get("mixedInstancesPolicy")
        if not mixed:
            spec = inputs.pop("launchTemplate", None) or {}
            mixed = {
                "launchTemplate": {
                    "launchTemplateSpecification": {
                        "launchTemplateId": spec.get("id"),
                        "launchTemplateName": spec.get("name"),
                        "version": spec.get("version"),
                    }
                }
            }
            deps["mixedInstancesPolicy"] = deps.pop("launchTemplate", [])
        mixed["instancesDistribution"] = {
            **(mixed.get("instancesDistribution") or {}),
            "onDemandBaseCapacity": 0,
            "onDemandPercentageAboveBaseCapacity": 0,
        }
        inputs["mixedInstancesPolicy"] = mixed
        out.append(_with_inputs(r, inputs, deps))
    return out


def _graviton(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    for old, new in GRAVITON.items():
        if value.startswith(old):
            return new + value[len(old) :]
    return value


def graviton(resources: Sequence[PlannedResource]) -> list[PlannedResource]:
    """Same sizes on Graviton: launch templates, mixed-policy overrides, standalone instances, RDS classes
    and cache nodes."""
    fields = {
        LAUNCH_TEMPLATE: "instanceType",
        INSTANCE: "instanceType",
        "aws:rds/instance:Instance": "instanceClass",
        "aws:elasticache/replicationGroup:ReplicationGroup": "nodeType",
    }
    out = []
    for r in resources:
        inputs = copy.deepcopy(dict(r.inputs))
        if r.type in fields and fields[r.type] in inputs:
            inputs[fields[r.type]] = _graviton(inputs[fields[r.type]])
        if r.type == ASG and inputs.get("mixedInstancesPolicy"):
            lt = inputs["mixedInstancesPolicy"].get("launchTemplate") or {}
            for override in lt.get("overrides") or []:
                override["instanceType"] = _graviton(override.get("instanceType"))
        out.append(_with_inputs(r, inputs))
    return out


SCENARIOS: tuple[
    tuple[str, str, Callable[[Sequence[PlannedResource]], list[PlannedResource]], PricingOptions], ...
] = (
    ("spot", "All EC2 on spot (typical discount)", all_spot, PricingOptions()),
    (
        "reserved",
        "1-yr no-upfront reserved for the always-on baseline (EC2 min size, RDS, ElastiCache)",
        list,
        PricingOptions(reserved=True),
    ),
    ("graviton", "Graviton (t3 -> t4g, db.t3 -> db.t4g, cache.t3 -> cache.t4g)", graviton, PricingOptions()),
    (
        "combined",
        "Graviton + all EC2 on spot + reserved RDS and ElastiCache",
        lambda rs: all_spot(graviton(rs)),
        PricingOptions(reserved=True),
    ),
)


def what_ifs(
    resources: Sequence[PlannedResource],
    cfg: StackConfig,
    catalog: Catalog,
    measured: Measured | Unmeasured | None = None,
) -> list[WhatIf]:
    """Each scenario priced with the same rules, catalog and measured figures (None: the kept runs')."""
    return [
        WhatIf(key, title, estimate(transform(resources), cfg, catalog, options, measured))
        for key, title, transform, options in SCENARIOS
    ]
