"""Flat-rate plans are per distribution: the assets on N plans, /ws and the API on a pay-as-you-go
distribution of their own, and the Security Savings Bundle on what is pay as you go. The config refuses
what cannot be priced, the program builds what it says, check prices it by hand arithmetic, and fit
searches it (phase 2 without a domain: the split more than halves the cheapest plan)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from budget.capacity import load_model
from budget.catalog import Catalog, load_catalog
from budget.demand import demand_of, traffic, with_routed_usage
from budget.estimator import estimate
from budget.fit import space as space_module
from budget.fit.pricer import Pricer
from budget.fit.search import search
from budget.fit.space import Space
from budget.plan import from_record
from components.config import ConfigError, StackConfig, load_stack_file
from components.planning.baseline import violations
from components.planning.mocks import plan, plan_resources
from tests.budget.budget_helpers import DIRECT, ROOT, res, unpriced

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
SUBSCRIPTION = "aws:pricingplanmanager/subscription:Subscription"
WAF = "aws:wafv2/webAcl:WebAcl"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _split(phase: str = "phase2", **cdn: Any) -> StackConfig:
    """The phase's own stack (no certificate: CloudFront carries everything) with the assets on two
    Business plans and /ws and the API on a dynamic distribution, usage routed for it."""
    data = load_stack_file(ROOT / f"Pulumi.{phase}.yaml").model_dump()
    data["cdn"].update({"plan": "business", "asset_distributions": 2, "dynamic_distribution": True, **cdn})
    return with_routed_usage(StackConfig.model_validate(data))


def _refused(phase: str, match: str, **blocks: dict[str, Any]) -> None:
    data = load_stack_file(ROOT / f"Pulumi.{phase}.yaml").model_dump()
    for block, changes in blocks.items():
        data[block] = {**data[block], **changes}
    with pytest.raises(ValueError, match=match):
        StackConfig.model_validate(data)


# -- the config ---------------------------------------------------------------------------------------


def test_the_config_refuses_what_would_bill_as_one_or_not_at_all() -> None:
    two = "two pay-as-you-go distributions bill as one"
    _refused("phase2", two, cdn={"asset_distributions": 2})
    _refused("phase2", two, cdn={"dynamic_distribution": True})
    _refused("phase2", "less than or equal to 4", cdn={"plan": "business", "asset_distributions": 5})
    # no certificate: a plan for the assets needs the dynamic distribution for the API and /ws
    _refused("phase2", "dynamic_distribution", cdn={"plan": "business"})
    # the bundle needs a pay-as-you-go distribution to discount
    _refused(
        "phase2",
        "no source says the bundle applies",
        cdn={"plan": "business", "savings_bundle": True},
        **DIRECT,
    )
    # a dynamic distribution with nothing dynamic to carry
    _refused(
        "phase2",
        "nothing would go through it",
        cdn={"plan": "business", "dynamic_distribution": True},
        **DIRECT,
    )
    # the API's own figures only where the API has its own distribution
    _refused("phase2", "cloudfront_api_requests", usage={"cloudfront_api_requests": 5})


def test_the_stack_file_error_names_the_block_and_why_on_one_line(tmp_path: Any) -> None:
    text = (ROOT / "Pulumi.phase2.yaml").read_text(encoding="utf-8")
    path = tmp_path / "Pulumi.phase2.yaml"
    path.write_text(
        text.replace(
            "    intelligent_tiering: true\n", "    intelligent_tiering: true\n    asset_distributions: 3\n"
        )
    )
    assert "asset_distributions: 3" in path.read_text()
    with pytest.raises(ConfigError, match="asset_distributions") as raised:
        load_stack_file(path)
    head, block = str(raised.value).splitlines()  # the header, then one line for the one refused block
    assert head == "invalid stack configuration:"
    assert block.startswith("  stars:cdn = {'asset_distributions': 3, ")
    assert block.endswith(
        ": asset_distributions above 1 and dynamic_distribution need a flat-rate plan for the assets:"
        " two pay-as-you-go distributions bill as one (the account's free tier and volume tiers)"
    )


def test_routing_moves_the_api_to_the_dynamic_distribution_and_nothing_is_lost() -> None:
    single = with_routed_usage(load_stack_file(ROOT / "Pulumi.phase2.yaml"))
    split = _split()
    a, b = single.usage, split.usage
    assert b.cloudfront_api_requests > 0 and b.cloudfront_api_egress_gb > 0
    assert a.cloudfront_requests == pytest.approx(b.cloudfront_requests + b.cloudfront_api_requests, abs=0.02)
    assert a.cloudfront_egress_gb == pytest.approx(
        b.cloudfront_egress_gb + b.cloudfront_api_egress_gb, abs=0.02
    )
    t = traffic(demand_of(split))
    assert b.cloudfront_egress_gb == pytest.approx(t.static_gb, abs=0.01)
    assert b.cloudfront_websocket_egress_gb == a.cloudfront_websocket_egress_gb


# -- what the program builds ----------------------------------------------------------------------------


def test_the_program_builds_two_planned_asset_distributions_and_a_dynamic_one() -> None:
    cfg = _split(savings_bundle=True)
    records = plan_resources(cfg)
    dists = [r for r in records if r.type == DISTRIBUTION]
    traffic_tags = sorted(r.inputs["tags"]["traffic"] for r in dists)
    assert traffic_tags == ["assets", "assets", "dynamic"]
    assert len([r for r in records if r.type == SUBSCRIPTION]) == 2
    assert len([r for r in records if r.type == WAF]) == 2
    (dynamic,) = [r for r in dists if r.inputs["tags"]["traffic"] == "dynamic"]
    assert dynamic.inputs["tags"]["purchase"] == "savings-bundle-1yr"
    assert "webAclId" not in dynamic.inputs  # pay as you go: no plan, no web ACL
    paths = {b["pathPattern"] for b in dynamic.inputs["orderedCacheBehaviors"]}
    assert {"/ws", "/api/*"} <= paths
    assert dynamic.inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "https-only"
    for asset in (r for r in dists if r.inputs["tags"]["traffic"] == "assets"):
        assert "orderedCacheBehaviors" not in asset.inputs  # every path served by the default behaviour
        assert "purchase" not in asset.inputs["tags"]  # on a plan: no bundle
    assert violations(records) == []  # the bucket policy names both asset distributions, TLS everywhere
    outputs = plan(cfg).outputs
    assert len(outputs["cdn_domains"]) == 2


# -- what check charges, by hand ------------------------------------------------------------------------


def _dist(name: str, traffic_tag: str, purchase: str | None = None) -> Any:
    tags = {"traffic": traffic_tag, **({"purchase": purchase} if purchase else {})}
    return res(DISTRIBUTION, name, {"priceClass": "PriceClass_200", "tags": tags}, id_=f"E{name.upper()}")


def _plan_for(dist: Any, acl: Any, name: str) -> Any:
    return res(
        SUBSCRIPTION,
        name,
        {
            "planFamily": "CloudFront",
            "planTier": "BUSINESS",
            "usageLevel": "DEFAULT",
            "resourceArns": [
                f"arn:aws:cloudfront::123456789012:distribution/{dist.id}",
                f"arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/{acl.id}",
            ],
        },
    )


def test_check_prices_the_split_by_hand(catalog: Catalog) -> None:
    cfg = _split(savings_bundle=True)
    usage = cfg.usage.model_copy(
        update={
            "cloudfront_egress_gb": 20_000,
            "cloudfront_requests": 200_000_000,
            "cloudfront_api_egress_gb": 2_000,
            "cloudfront_api_requests": 50_000_000,
            "cloudfront_websocket_egress_gb": 1_000,
            "cloudfront_websocket_ingress_gb": 100,
            "cloudfront_websocket_connections": 5_000_000,
        }
    )
    cfg = cfg.model_copy(update={"usage": usage})
    a1, a2 = _dist("assets1", "assets"), _dist("assets2", "assets")
    w1, w2 = res(WAF, "waf1", id_="w-1"), res(WAF, "waf2", id_="w-2")
    p1, p2 = _plan_for(a1, w1, "plan1"), _plan_for(a2, w2, "plan2")
    dyn = _dist("dynamic", "dynamic", "savings-bundle-1yr")
    est = estimate([a1, a2, w1, w2, p1, p2, dyn], cfg, catalog)
    assert not est.unpriced, est.unpriced
    by_name = {p.resource.name: p.monthly("max") for p in est.priced}
    # each assets distribution: half of 20 TB and 200 M requests, within Business's 50 TB and 125 M: $0
    assert by_name["assets1"] == by_name["assets2"] == 0
    assert by_name["plan1"] == by_name["plan2"] == pytest.approx(200.0)
    # the dynamic one, pay as you go at the African edges, 30% off:
    #   (2,000 + 1,000 - 1,024 free) GB x $0.110 = 217.36; (50 M - 10 M free) / 10k x $0.012 = 48.00;
    #   5 M upgrades (no free requests left) / 10k x $0.012 = 6.00; 100 GB up x $0.060 = 6.00
    hand = (1_976 * 0.110 + 4_000 * 0.012 + 500 * 0.012 + 100 * 0.060) * (1 - 0.30)
    assert by_name["dynamic"] == pytest.approx(hand, abs=0.005)


def test_check_refuses_what_it_cannot_price(catalog: Catalog) -> None:
    cfg = _split()
    # no API figures, so each case below meets its own refusal (with them, a stack without the dynamic
    # distribution is refused first: its usage routes API traffic to a distribution it lacks)
    bare = cfg.usage.model_copy(update={"cloudfront_api_egress_gb": 0, "cloudfront_api_requests": 0})
    assert "routes API traffic" in unpriced(_dist("x", "assets"), cfg, catalog).reason
    cfg = cfg.model_copy(update={"usage": bare})
    a1, w1 = _dist("assets1", "assets"), res(WAF, "waf1", id_="w-1")
    p1 = _plan_for(a1, w1, "plan1")
    # a bundle on a distribution on a plan: no source says it applies
    bundled = _dist("assets1", "assets", "savings-bundle-1yr")
    why = unpriced(bundled, cfg, catalog, [w1, _plan_for(bundled, w1, "plan1")]).reason
    assert "Security Savings Bundle" in why
    # two pay-as-you-go assets distributions: one account's tiers, not per-distribution usage
    two = [_dist("x1", "assets"), _dist("x2", "assets")]
    assert "bill as one" in unpriced(two[0], cfg, catalog, [two[1]]).reason
    # a dynamic distribution beside a pay-as-you-go assets one
    assert "bill as one" in unpriced(_dist("d", "dynamic"), cfg, catalog, [_dist("x", "assets")]).reason
    # an unknown traffic tag, an unknown purchase
    assert "no usage figures" in unpriced(_dist("q", "video"), cfg, catalog).reason
    assert "has no price" in unpriced(_dist("q", "assets", "reserved-1yr"), cfg, catalog).reason
    # more requests than the plan's share allows
    heavy = cfg.model_copy(update={"usage": cfg.usage.model_copy(update={"cloudfront_requests": 300e6})})
    a2, w2 = _dist("assets2", "assets"), res(WAF, "waf2", id_="w-2")
    others = [w1, p1, a2, w2, _plan_for(a2, w2, "plan2"), _dist("dyn", "dynamic")]
    why = unpriced(a1, heavy, catalog, others).reason
    assert "0.5 of the assets' traffic" in why and "exceeds the Business plan" in why


# -- what fit finds ------------------------------------------------------------------------------------


def test_fit_counts_the_distributions_a_plan_needs_by_hand(catalog: Catalog) -> None:
    cfg = load_stack_file(ROOT / "Pulumi.phase3.yaml")
    space = Space(cfg, catalog, load_model(catalog))
    list(space.shapes())
    t = traffic(demand_of(cfg))
    assert space.asset_distributions("business") == math.ceil(t.static_requests / 125e6)
    assert space.asset_distributions("pay_as_you_go") == 1
    assert space.asset_distributions("free") is None  # 1 M requests each: far more than 4
    assert any("free plan" in r for r in space.rejected)


def test_fit_puts_the_assets_on_plans_beside_a_pay_as_you_go_distribution(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phase 2 without a domain: the split plan is cheaper than the best with one pay-as-you-go
    distribution, and what it writes is deployable and priced by check to the cent."""
    cfg = load_stack_file(ROOT / "Pulumi.phase2.yaml")
    model = load_model(catalog)
    best = search(cfg, catalog, model, Pricer(catalog)).best
    assert best is not None
    shape = best.choice.shape
    assert shape.cdn_plan != "pay_as_you_go" and shape.dynamic_distribution and shape.savings_bundle
    written = best.priced.cfg
    assert written.cdn.dynamic_distribution and written.cdn.asset_distributions == shape.asset_distributions
    whole = estimate([from_record(r) for r in plan_resources(written)], written, catalog)
    assert not whole.unpriced and whole.total() == pytest.approx(best.priced.total(), abs=0.005)
    monkeypatch.setattr(space_module, "CDN_PLANS", ("pay_as_you_go",))
    single = search(cfg, catalog, model, Pricer(catalog)).best
    assert single is not None
    assert best.priced.total() < 0.7 * single.priced.total()
