"""Helpers for the budget tests: the real stack configs, hand-made resources, pricing one resource."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from budget.capacity import kept_measured
from budget.catalog import Catalog
from budget.estimator import price_resource
from budget.model import PlannedResource, PricedResource, Unpriced
from budget.pricing_inputs import PricingInputs
from budget.rules import PricingOptions, RuleContext
from components.config import StackConfig, load_stack_file

ROOT = Path(__file__).resolve().parents[2]
#: The saved ``fit --all --format json`` (test_golden.py's test_fit_json holds it to the live command):
#: tests of fit's report read fit's answer here without a search of their own.
SAVED_FIT = Path(__file__).parent / "golden" / "fit-all.json"


def saved_fit(stack: str | None = None) -> dict[str, Any]:
    """The saved ``fit --all`` document, or one stack's entry of it."""
    doc: dict[str, Any] = json.loads(SAVED_FIT.read_text(encoding="utf-8"))
    return doc if stack is None else next(s for s in doc["stacks"] if s["stack"] == stack)


#: The rule tests' fixed stack: the phase as if it named a domain (TLS on the load balancer, clients
#: straight to it, the CDN edges phases 1 and 2 had before CloudFront carried their WebSockets), with its
#: usage routed for that architecture: the figures these tests were worked out for by hand.
DOMAIN = "api.example.org"
DIRECT_PRICE_CLASS = {"phase1": "PriceClass_100", "phase2": "PriceClass_100", "phase3": "PriceClass_200"}


def stack_cfg(phase: str = "phase1", region: str | None = None, **usage: float | str) -> StackConfig:
    """A phase's config with TLS on the load balancer for a domain (above), optionally in another region
    and with some usage figures replaced."""
    from budget.demand import with_routed_usage

    real = load_stack_file(ROOT / f"Pulumi.{phase}.yaml")
    direct = real.model_dump()
    # a domain needs the internet-facing origin (the stack files' vpc_origin is internal)
    direct["load_balancer"].update(origin="public", domain=DOMAIN, websockets_via_cdn=False)
    direct["cdn"]["price_class"] = DIRECT_PRICE_CLASS[phase]
    direct["usage"].update(
        cloudfront_websocket_egress_gb=0,
        cloudfront_websocket_ingress_gb=0,
        cloudfront_websocket_connections=0,
    )
    cfg = with_routed_usage(StackConfig.model_validate(direct))
    update: dict[str, Any] = {}
    if region:
        update["region"] = region
    if usage:
        update["usage"] = cfg.usage.model_copy(update=usage)
    return cfg.model_copy(update=update)


def res(
    type_: str,
    name: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    id_: str | None = None,
    tier: str = "test",
    deps: dict[str, list[str]] | None = None,
    custom: bool = True,
) -> PlannedResource:
    return PlannedResource(
        type=type_,
        name=name,
        inputs=inputs or {},
        urn=f"urn:pulumi:test::stars::{type_}::{name}",
        tier=tier,
        id=id_ if id_ is not None else f"{name}-id",
        custom=custom,
        property_dependencies=deps or {},
    )


def price(
    resource: PlannedResource,
    cfg: StackConfig,
    catalog: Catalog,
    others: Sequence[PlannedResource] = (),
    options: PricingOptions = PricingOptions(),  # noqa: B008 (immutable)
) -> PricedResource:
    """Price one resource (with its neighbours for links); fail the test if it is unpriced."""
    ctx = RuleContext(
        inputs=PricingInputs.of(cfg, kept_measured()),
        catalog=catalog,
        resources=(resource, *others),
        options=options,
    )
    result = price_resource(resource, ctx)
    assert not isinstance(result, Unpriced), result.reason
    return result


def unpriced(
    resource: PlannedResource, cfg: StackConfig, catalog: Catalog, others: Sequence[PlannedResource] = ()
) -> Unpriced:
    ctx = RuleContext(
        inputs=PricingInputs.of(cfg, kept_measured()), catalog=catalog, resources=(resource, *others)
    )
    result = price_resource(resource, ctx)
    assert isinstance(result, Unpriced), f"expected unpriced, got {result}"
    return result


def line_named(priced: PricedResource, prefix: str) -> Any:
    """The one line whose name starts with ``prefix``."""
    found = [item for item in priced.lines if item.name.startswith(prefix)]
    assert len(found) == 1, [item.name for item in priced.lines]
    return found[0]


def assert_serves_only_tls(cfg: StackConfig) -> None:
    """``cfg`` planned under mocks serves clients only HTTPS/WSS: the baseline's TLS rules hold; with a
    domain TLS ends on the load balancer itself, its plaintext listener only redirecting; without one no
    internet-facing load balancer has a plaintext listener at all (it is internal, behind a VPC origin)."""
    from components.planning.baseline import no_plain_http, tls_in_transit, violations
    from components.planning.mocks import plan_resources

    resources = plan_resources(cfg)
    assert no_plain_http(resources) == [] and tls_in_transit(resources) == []
    assert violations(resources) == []
    listeners = [r for r in resources if r.type == "aws:lb/listener:Listener"]
    lbs = {r.state["arn"]: r for r in resources if r.type == "aws:lb/loadBalancer:LoadBalancer"}
    assert lbs and {li.inputs["loadBalancerArn"] for li in listeners} <= set(lbs)
    public_plain = [
        li.name
        for li in listeners
        if lbs[li.inputs["loadBalancerArn"]].inputs["internal"] is not True
        and li.inputs["protocol"] in ("HTTP", "TCP")
        and [a["type"] for a in li.inputs["defaultActions"]] != ["redirect"]
    ]
    assert public_plain == [], f"internet-facing plaintext listeners: {public_plain}"
    if cfg.load_balancer.domain is not None:
        # the internet-facing ones (an internal /ws load balancer behind a VPC origin listens in plain TCP
        # or HTTP, reached by CloudFront alone: no_plain_http above holds it)
        public = [li for li in listeners if lbs[li.inputs["loadBalancerArn"]].inputs["internal"] is not True]
        assert public and {li.inputs["protocol"] for li in public} <= {"HTTPS", "TLS", "HTTP"}
        for li in public:
            if li.inputs["protocol"] == "HTTP":
                assert [a["type"] for a in li.inputs["defaultActions"]] == ["redirect"]


#: Stack blocks for a domain on the load balancer and WebSockets straight to it: nothing dynamic goes
#: through CloudFront.
DIRECT: dict[str, dict[str, Any]] = {
    "load_balancer": {"origin": "public", "domain": "api.example.org", "websockets_via_cdn": False},
    "usage": {
        "cloudfront_websocket_egress_gb": 0,
        "cloudfront_websocket_ingress_gb": 0,
        "cloudfront_websocket_connections": 0,
    },
}
