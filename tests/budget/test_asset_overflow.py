"""The assets split between flat-rate plans and pay as you go (``stars:cdn.asset_overflow``): N plan
distributions filled to their allowance, the rest of the assets on one pay-as-you-go distribution (the
dynamic one when there is one). The config refuses what cannot be priced, the program tags each
distribution's share, check prices each share by hand arithmetic, and fit finds the lever for phase 1:
two Pro plans and the overflow (USD 33.43) instead of three Pro plans (USD 45)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget.capacity import kept_measured, load_model
from budget.catalog import Catalog, load_catalog
from budget.demand import with_routed_usage
from budget.estimator import estimate, price_resource
from budget.fit.levers import with_domain
from budget.fit.pricer import Pricer
from budget.fit.search import search
from budget.fit.space import Shape, Space
from budget.plan import from_record
from budget.pricing_inputs import PricingInputs
from budget.rules.base import RuleContext, RuleError
from budget.rules.cloudfront_distribution import asset_share
from components.config import CdnConfig, StackConfig, load_stack_file
from components.planning.baseline import violations
from components.planning.mocks import plan, plan_resources
from tests.budget.budget_helpers import DIRECT, ROOT, res, unpriced

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
SUBSCRIPTION = "aws:pricingplanmanager/subscription:Subscription"
WAF = "aws:wafv2/webAcl:WebAcl"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
#: Phase 1's routed figures for a shape with /ws and the API on a dynamic distribution (fit's cheapest):
#: the static assets' 24,087,360 requests and 2,408.74 GB, the API's and the WebSockets'.
PHASE1_USAGE: dict[str, float] = {
    "cloudfront_egress_gb": 2_408.74,
    "cloudfront_requests": 24_087_360,
    "cloudfront_api_egress_gb": 328.46,
    "cloudfront_api_requests": 152_790_697.67,
    "cloudfront_websocket_egress_gb": 216.79,
    "cloudfront_websocket_ingress_gb": 30.71,
    "cloudfront_websocket_connections": 7_639_534.88,
}
#: What two Pro plans do not carry: 1 - 2 x 10 M / 24,087,360 requests (the requests bind: 2 x 50 TB
#: is far above 2,408.74 GB).
OVERFLOW = 1 - 20_000_000 / 24_087_360


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _stack(phase: str = "phase1", /, **blocks: dict[str, Any]) -> StackConfig:
    data = load_stack_file(ROOT / f"Pulumi.{phase}.yaml").model_dump()
    for block, changes in blocks.items():
        data[block] = {**data[block], **changes}
    return with_routed_usage(StackConfig.model_validate(data))


#: Pro on two distributions, the assets' rest on the dynamic distribution with /ws and the API.
TWO_PRO = {
    "plan": "pro",
    "default_ttl_seconds": 86400,
    "asset_distributions": 2,
    "dynamic_distribution": True,
    "savings_bundle": True,
    "asset_overflow": "pay_as_you_go",
    "asset_overflow_share": 0.2,
}
# -- the config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cdn", "match"),
    [
        (
            {**TWO_PRO, "plan": "pay_as_you_go", "asset_distributions": 1, "dynamic_distribution": False},
            "needs a flat-rate plan",
        ),
        ({**TWO_PRO, "asset_overflow_share": 0.0}, "needs one"),
        ({**TWO_PRO, "asset_overflow": "none"}, "needs an overflow distribution"),
        ({**TWO_PRO, "asset_overflow_share": 1.0}, "less than 1"),
        ({**TWO_PRO, "asset_overflow": "flat_rate"}, "asset_overflow"),
    ],
)
def test_the_config_refuses_an_overflow_it_cannot_price(cdn: dict[str, Any], match: str) -> None:
    data = load_stack_file(ROOT / "Pulumi.phase1.yaml").model_dump()
    data["cdn"] = {**data["cdn"], **cdn}
    with pytest.raises(ValueError, match=match):
        StackConfig.model_validate(data)


def test_the_default_is_off_and_the_bundle_may_discount_the_overflow_alone() -> None:
    assert load_stack_file(ROOT / "Pulumi.phase1.yaml").cdn.asset_overflow == "none"
    # with a domain nothing dynamic goes through CloudFront: the overflow is the only pay-as-you-go one
    cfg = _stack(cdn={**TWO_PRO, "dynamic_distribution": False}, **DIRECT)
    assert cfg.cdn.savings_bundle and cfg.cdn.asset_overflow == "pay_as_you_go"


# -- what the program builds ----------------------------------------------------------------------------


def _distributions(cfg: StackConfig) -> tuple[list[Any], list[Any]]:
    records = plan_resources(cfg)
    assert violations(records) == []  # TLS everywhere, the bucket read only by its distributions
    return records, [r for r in records if r.type == DISTRIBUTION]


def test_the_dynamic_distribution_carries_the_overflow_with_its_share_tagged() -> None:
    cfg = _stack(cdn=TWO_PRO)
    records, dists = _distributions(cfg)
    shares = {r.name: (r.inputs["tags"]["traffic"], float(r.inputs["tags"]["asset_share"])) for r in dists}
    assert sorted(shares.values()) == [("assets", 0.4), ("assets", 0.4), ("dynamic", 0.2)]
    assert len([r for r in records if r.type == SUBSCRIPTION]) == 2
    (dynamic,) = [r for r in dists if r.inputs["tags"]["traffic"] == "dynamic"]
    assert dynamic.inputs["tags"]["purchase"] == "savings-bundle-1yr" and "webAclId" not in dynamic.inputs
    # the bucket by default, as on the plan distributions (the same paths), /ws and the API ordered
    assert dynamic.inputs["defaultCacheBehavior"]["targetOriginId"] == "s3-assets"
    assert {o["originPath"] for o in dynamic.inputs["origins"] if o["originId"] == "s3-assets"} == {"/public"}
    assert {"/ws", "/api/*"} <= {b["pathPattern"] for b in dynamic.inputs["orderedCacheBehaviors"]}
    # the bucket policy lets all three read
    (policy,) = [r for r in records if r.type == BUCKET_POLICY]
    readers = json.loads(policy.inputs["policy"])["Statement"][0]["Condition"]["StringEquals"]
    assert len(readers["AWS:SourceArn"]) == 3
    outputs = plan(cfg).outputs
    assert len(outputs["cdn_domains"]) == 3 and outputs["cdn_domain_shares"] == [0.4, 0.4, 0.2]


def test_without_a_dynamic_distribution_the_overflow_is_one_more_of_the_bucket() -> None:
    cfg = _stack(cdn={**TWO_PRO, "dynamic_distribution": False}, **DIRECT)
    records, dists = _distributions(cfg)
    (overflow,) = [r for r in dists if r.name.endswith("-overflow")]
    assert overflow.inputs["tags"]["traffic"] == "assets" and overflow.inputs["tags"]["asset_share"] == "0.2"
    assert overflow.inputs["tags"]["purchase"] == "savings-bundle-1yr" and "webAclId" not in overflow.inputs
    assert len([r for r in records if r.type == SUBSCRIPTION]) == 2 and len(dists) == 3


def test_without_the_option_nothing_changes() -> None:
    cfg = _stack(cdn={k: v for k, v in TWO_PRO.items() if not k.startswith("asset_overflow")})
    _, dists = _distributions(cfg)
    assert all("asset_share" not in r.inputs["tags"] for r in dists) and len(dists) == 3
    (dynamic,) = [r for r in dists if r.inputs["tags"]["traffic"] == "dynamic"]
    assert dynamic.inputs["defaultCacheBehavior"]["targetOriginId"] != "s3-assets"


# -- what check charges, by hand ------------------------------------------------------------------------


def _dist(name: str, traffic: str, share: float | None = None, bundle: bool = False) -> Any:
    tags = {"traffic": traffic}
    if share is not None:
        tags["asset_share"] = repr(share)
    if bundle:
        tags["purchase"] = "savings-bundle-1yr"
    return res(DISTRIBUTION, name, {"priceClass": "PriceClass_200", "tags": tags}, id_=f"E{name.upper()}")


def _pro(dist: Any, index: int, tier: str = "PRO") -> list[Any]:
    acl = res(WAF, f"waf{index}", id_=f"w-{index}")
    subscription = res(
        SUBSCRIPTION,
        f"plan{index}",
        {
            "planFamily": "CloudFront",
            "planTier": tier,
            "usageLevel": "DEFAULT",
            "resourceArns": [
                f"arn:aws:cloudfront::123456789012:distribution/{dist.id}",
                f"arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/{acl.id}",
            ],
        },
    )
    return [dist, acl, subscription]


def _phase1(**cdn: Any) -> StackConfig:
    cfg = _stack(cdn={**TWO_PRO, **cdn})
    return cfg.model_copy(update={"usage": cfg.usage.model_copy(update=PHASE1_USAGE)})


def _cdn_usd(resources: list[Any], cfg: StackConfig, catalog: Catalog) -> dict[str, float]:
    est = estimate(resources, cfg, catalog)
    assert not est.unpriced, est.unpriced
    return {p.resource.name: p.monthly("max") for p in est.priced}


def test_check_prices_two_pro_plans_and_the_overflow_against_three_pro_plans(catalog: Catalog) -> None:
    """Phase 1 (PriceClass_200, viewers in Africa, Security Savings Bundle on the dynamic distribution).

    Each Pro plan carries 10 M requests (its allowance; 0.4152 of 24,087,360) and 1,000 GB: USD 15, $0
    lines. The dynamic distribution bills its own figures plus the overflow, 4,087,360 requests and
    408.736 GB: transfer 328.46 + 408.736 + 216.79 = 953.99 GB, inside the 1,024 GB free tier, USD 0;
    requests (152,790,697.67 + 4,087,360 - 10 M free) / 10k x 0.012; 7,639,534.88 upgrades / 10k x 0.012;
    30.71 GB up x 0.060; all x (1 - 0.30). Against three Pro plans (each a third, 8,029,120 requests) and
    the dynamic distribution on its own figures, the split saves 15 - 4,087,360 / 10k x 0.012 x 0.7 =
    15 - 3.43 = USD 11.57 a month: 2 x 15 + 3.43 = 33.43 instead of 45."""
    cfg = _phase1(asset_overflow_share=OVERFLOW)
    plan_share = (1 - OVERFLOW) / 2
    a1, a2 = _dist("assets1", "assets", plan_share), _dist("assets2", "assets", plan_share)
    split = _cdn_usd(
        [*_pro(a1, 1), *_pro(a2, 2), _dist("dynamic", "dynamic", OVERFLOW, bundle=True)], cfg, catalog
    )
    assert split["assets1"] == split["assets2"] == 0 and split["plan1"] == split["plan2"] == 15.0
    dynamic = (
        (152_790_697.67 + 4_087_360 - 10_000_000) / 10_000 * 0.012
        + 7_639_534.88 / 10_000 * 0.012
        + 30.71 * 0.060
    ) * 0.7
    assert split["dynamic"] == pytest.approx(dynamic, abs=0.005)

    three = _phase1(asset_overflow="none", asset_overflow_share=0.0, asset_distributions=3)
    b1, b2, b3 = (_dist(f"assets{i}", "assets") for i in (1, 2, 3))
    pro3 = _cdn_usd(
        [*_pro(b1, 1), *_pro(b2, 2), *_pro(b3, 3), _dist("dynamic", "dynamic", bundle=True)], three, catalog
    )
    alone = (
        (152_790_697.67 - 10_000_000) / 10_000 * 0.012 + 7_639_534.88 / 10_000 * 0.012 + 30.71 * 0.060
    ) * 0.7
    assert pro3["dynamic"] == pytest.approx(alone, abs=0.005)
    overflow_usd = split["dynamic"] - pro3["dynamic"]
    assert overflow_usd == pytest.approx(4_087_360 / 10_000 * 0.012 * 0.7, abs=0.005)  # 3.43
    assert sum(split.values()) - sum(pro3.values()) == pytest.approx(-11.57, abs=0.005)
    assert 30 + overflow_usd == pytest.approx(33.43, abs=0.005)


def test_a_lone_overflow_distribution_is_priced_with_the_free_tier(catalog: Catalog) -> None:
    """With a domain and WebSockets direct, the overflow is the one pay-as-you-go distribution: 4,087,360
    requests and 408.736 GB, both inside the always-free tier (10 M, 1,024 GB): USD 0, where a third Pro
    plan costs 15."""
    cfg = _stack(cdn={**TWO_PRO, "dynamic_distribution": False, "asset_overflow_share": OVERFLOW}, **DIRECT)
    cfg = cfg.model_copy(
        update={
            "usage": cfg.usage.model_copy(
                update={k: PHASE1_USAGE[k] for k in ("cloudfront_egress_gb", "cloudfront_requests")}
            )
        }
    )
    plan_share = (1 - OVERFLOW) / 2
    a1, a2 = _dist("assets1", "assets", plan_share), _dist("assets2", "assets", plan_share)
    over = _dist("overflow", "assets", OVERFLOW, bundle=True)
    usd = _cdn_usd([*_pro(a1, 1), *_pro(a2, 2), over], cfg, catalog)
    assert usd["overflow"] == 0 and usd["plan1"] + usd["plan2"] == 30
    est = estimate([*_pro(a1, 1), *_pro(a2, 2), over], cfg, catalog)
    (priced,) = [p for p in est.priced if p.resource.name == "overflow"]
    requests = [c for c in priced.lines if c.name.startswith("HTTPS requests (free")]
    assert requests[0].quantity.max == pytest.approx(4_087_360 / 10_000)


def test_check_refuses_shares_it_cannot_price(catalog: Catalog) -> None:
    cfg = _phase1(asset_overflow_share=OVERFLOW)
    a1, a2 = _dist("assets1", "assets", 0.45), _dist("assets2", "assets", 0.45)
    others = [*_pro(a2, 2)[1:], a2, _dist("dynamic", "dynamic", 0.1, bundle=True)]
    # each plan's share above its allowance: 0.45 x 24,087,360 = 10,839,312 requests > 10 M
    why = unpriced(a1, cfg, catalog, [*_pro(a1, 1)[1:], *others]).reason
    assert "0.45 of the assets' traffic" in why and "exceeds the Pro plan" in why
    # shares that do not add up to the whole
    short = [_dist("assets2", "assets", 0.4), _dist("dynamic", "dynamic", 0.1)]
    assert "add up to 0.9" in unpriced(_dist("assets1", "assets", 0.4), cfg, catalog, short).reason
    # a share that is not a share
    for bad in ("half", "-0.1", "1.5", "nan"):
        lone = res(
            DISTRIBUTION,
            "x",
            {"priceClass": "PriceClass_200", "tags": {"traffic": "assets", "asset_share": bad}},
        )
        assert "not a share" in unpriced(lone, cfg, catalog).reason
    # two pay-as-you-go distributions still bill as one
    two = [_dist("over1", "assets", 0.5), _dist("over2", "assets", 0.5)]
    assert "bill as one" in unpriced(two[0], _stack(**DIRECT), catalog, [two[1]]).reason


@settings(
    max_examples=int(os.environ.get("STARS_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=st.one_of(
        st.text(max_size=30),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(-5, 5).map(str),
        st.none(),
        st.integers(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_any_share_tag_is_read_as_a_share_or_refused_in_one_line(catalog: Catalog, value: Any) -> None:
    """The tag comes from a plan (a preview's JSON): whatever it holds, the rule reads a share in [0, 1] or
    says in one line why it cannot price the distribution, never a traceback."""
    dist = res(
        DISTRIBUTION,
        "x",
        {"priceClass": "PriceClass_200", "tags": {"traffic": "assets", "asset_share": value}},
    )
    try:
        share = asset_share(dist, [dist])
    except RuleError as exc:
        assert "\n" not in str(exc)
    else:
        assert 0 <= share <= 1  # 0: an overflow distribution standing by
    cfg = _stack(**DIRECT)
    ctx = RuleContext(inputs=PricingInputs.of(cfg, kept_measured()), catalog=catalog, resources=(dist,))
    result = price_resource(dist, ctx)
    reason = getattr(result, "reason", "")
    assert "\n" not in reason


# -- what fit finds ------------------------------------------------------------------------------------


def test_fit_counts_the_plans_filled_to_their_allowance(catalog: Catalog) -> None:
    space = Space(load_stack_file(ROOT / "Pulumi.phase1.yaml"), catalog, load_model(catalog))
    assert space.asset_distributions("pro") == 3  # 24,087,360 requests over 10 M each
    assert space.overflow_distributions("pro") == 2
    assert space.overflow_distributions("business") is None  # one carries everything
    assert space.overflow_distributions("pay_as_you_go") is None
    assert space.overflow_distributions("free") == 3  # an account holds at most three Free plans
    routed = _phase1()
    share = space.overflow_share(routed, "pro", 2, (10_000_000, 50_000))
    assert share == pytest.approx(OVERFLOW, rel=1e-6) and share > OVERFLOW  # a billionth of margin


def test_fit_picks_two_pro_plans_and_the_overflow_for_phase1(catalog: Catalog) -> None:
    """The cheapest phase 1 plan puts the assets on two Pro plans and two Free plans filled to their
    allowance and the rest on the dynamic distribution: USD 1.68 below the same plan without the Free
    plans, which is USD 11.57 below three Pro plans; what it writes is priced by check's whole plan to the
    cent."""
    cfg = load_stack_file(ROOT / "Pulumi.phase1.yaml")
    result = search(cfg, catalog, load_model(catalog), Pricer(catalog))
    best = result.best
    assert best is not None
    shape = best.choice.shape
    assert (shape.cdn_plan, shape.asset_distributions, shape.asset_overflow) == ("pro", 2, True)
    assert shape.free_distributions == 2  # four distributions at most
    written = best.priced.cfg
    assert written.cdn.asset_overflow == "pay_as_you_go"
    assert (written.cdn.free_asset_distributions, written.cdn.free_asset_share) == (2, pytest.approx(FREE))
    assert written.cdn.asset_overflow_share == pytest.approx(FREE_OVERFLOW, rel=1e-5)
    whole = estimate([from_record(r) for r in plan_resources(written)], written, catalog)
    assert not whole.unpriced and whole.total() == pytest.approx(best.priced.total(), abs=0.005)
    without_free = replace(shape, free_distributions=0)
    (pro_only,) = [c for c in result.per_shape if c.choice.shape == without_free]
    assert pro_only.priced.total() - best.priced.total() == pytest.approx(1.68, abs=0.01)
    same_with_three = replace(shape, asset_distributions=3, asset_overflow=False, free_distributions=0)
    (three,) = [c for c in result.per_shape if c.choice.shape == same_with_three]
    assert three.priced.total() - pro_only.priced.total() == pytest.approx(11.57, abs=0.01)


# -- Free plans beside the plans, filled before the overflow (stars:cdn.free_asset_distributions) --------

#: What a Free plan carries of phase 1's assets: 100 GB of 2,408.74 (1 M of 24,087,360 requests allows
#: a hair more: the assets are 100 KB objects), a billionth below, as fit fills it.
FREE = 100 / 2_408.74 * (1 - 1e-9)
#: Two Pro plans (10 M requests each) and two Free plans filled: the overflow is about 2,087,360 requests.
FREE_OVERFLOW = 1 - 20_000_000 / 24_087_360 - 2 * FREE
TWO_FREE = {"free_asset_distributions": 2, "free_asset_share": 0.04, "asset_overflow_share": 0.1}


@pytest.mark.parametrize(
    ("cdn", "match"),
    [
        ({**TWO_FREE, "asset_overflow": "none", "asset_overflow_share": 0.0}, "needs asset_overflow"),
        ({**TWO_FREE, "free_asset_share": 0.0}, "need one"),
        ({"free_asset_share": 0.04}, "needs Free-plan distributions"),
        ({**TWO_FREE, "free_asset_distributions": 4}, "less than or equal to 3"),
        # with plan free its own distributions count: 2 + 2 Free plans, an account holds 3
        ({**TWO_FREE, "plan": "free"}, "4 Free plans"),
        ({**TWO_FREE, "asset_distributions": 3}, "at most 4 asset distributions"),
        ({**TWO_FREE, "plan": "business", "default_ttl_seconds": 3600}, "AWS-managed cache policies"),
        ({**TWO_FREE, "free_asset_share": 0.45}, "leaves no share"),
    ],
)
def test_the_config_refuses_free_plans_it_cannot_deploy_or_price(cdn: dict[str, Any], match: str) -> None:
    data = load_stack_file(ROOT / "Pulumi.phase1.yaml").model_dump()
    data["cdn"] = {**data["cdn"], **TWO_PRO, **cdn}
    with pytest.raises(ValueError, match=match):
        StackConfig.model_validate(data)


def test_free_plan_distributions_are_built_like_the_plan_distributions_with_their_share_tagged() -> None:
    cfg = _stack(cdn={**TWO_PRO, **TWO_FREE})
    records, dists = _distributions(cfg)
    shares = {r.name: float(r.inputs["tags"]["asset_share"]) for r in dists}
    assert shares == {
        "cdn-distribution": pytest.approx(0.41),
        "cdn-distribution-2": pytest.approx(0.41),
        "cdn-distribution-free1": 0.04,
        "cdn-distribution-free2": 0.04,
        "cdn-dynamic": 0.1,
    }
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
    tiers = sorted(r.inputs["planTier"] for r in records if r.type == SUBSCRIPTION)
    assert tiers == ["FREE", "FREE", "PRO", "PRO"] and len([r for r in records if r.type == WAF]) == 4
    free = [r for r in dists if "-free" in r.name]
    # a web ACL each, no Savings Bundle (a plan's fee), the bucket on the managed cache policy
    assert all("webAclId" in r.inputs and "purchase" not in r.inputs["tags"] for r in free)
    assert all(r.inputs["tags"]["traffic"] == "assets" for r in free)
    (policy,) = [r for r in records if r.type == BUCKET_POLICY]
    readers = json.loads(policy.inputs["policy"])["Statement"][0]["Condition"]["StringEquals"]
    assert len(readers["AWS:SourceArn"]) == 5
    outputs = plan(cfg).outputs
    assert len(outputs["cdn_domains"]) == 5
    assert outputs["cdn_domain_shares"] == pytest.approx([0.41, 0.41, 0.04, 0.04, 0.1])


def test_check_prices_two_free_plans_before_the_overflow(catalog: Catalog) -> None:
    """Phase 1 without a domain, fit's cheapest shape: two Pro plans and two Free plans filled to their
    allowance (10 M + 10 M + 1 M + 1 M = 22 M requests; 1,000 + 1,000 + 100 + 100 GB), each USD 0 within
    it, the Free plans' fee USD 0; the dynamic distribution bills its own figures and the overflow,
    2,087,360 requests and 208.74 GB: requests (152,790,697.67 + 2,087,360 - 10 M free) / 10k x 0.012,
    7,639,534.88 upgrades / 10k x 0.012, 30.71 GB up x 0.060, all x (1 - 0.30); transfer 328.46 + 208.74 +
    216.79 GB inside the free 1,024 GB. Against two Pro plans and the whole overflow (4,087,360 requests)
    the two Free plans save 2,000,000 / 10k x 0.012 x 0.7 = USD 1.68 a month."""
    cfg = _phase1(asset_overflow_share=FREE_OVERFLOW, free_asset_distributions=2, free_asset_share=FREE)
    plan_share = (1 - FREE_OVERFLOW - 2 * FREE) / 2
    a1, a2 = _dist("assets1", "assets", plan_share), _dist("assets2", "assets", plan_share)
    f1, f2 = _dist("free1", "assets", FREE), _dist("free2", "assets", FREE)
    mixed = [*_pro(a1, 1), *_pro(a2, 2), *_pro(f1, 3, "FREE"), *_pro(f2, 4, "FREE")]
    usd = _cdn_usd([*mixed, _dist("dynamic", "dynamic", FREE_OVERFLOW, bundle=True)], cfg, catalog)
    assert usd["plan1"] == usd["plan2"] == 15.0 and usd["plan3"] == usd["plan4"] == 0.0
    assert usd["assets1"] == usd["assets2"] == usd["free1"] == usd["free2"] == 0.0
    dynamic = (
        (152_790_697.67 + FREE_OVERFLOW * 24_087_360 - 10_000_000) / 10_000 * 0.012
        + 7_639_534.88 / 10_000 * 0.012
        + 30.71 * 0.060
    ) * 0.7
    assert usd["dynamic"] == pytest.approx(dynamic, abs=0.005)

    pro_only = _phase1(asset_overflow_share=OVERFLOW)
    p1, p2 = (_dist(f"assets{i}", "assets", (1 - OVERFLOW) / 2) for i in (1, 2))
    before = _cdn_usd(
        [*_pro(p1, 1), *_pro(p2, 2), _dist("dynamic", "dynamic", OVERFLOW, bundle=True)], pro_only, catalog
    )
    overflow_requests = FREE_OVERFLOW * 24_087_360
    assert overflow_requests == pytest.approx(2_087_360, abs=300)
    assert sum(before.values()) - sum(usd.values()) == pytest.approx(1.68, abs=0.005)
    # the Free plan's allowance is its own: a Free distribution a request above 1 M is refused
    over = _dist("free1", "assets", FREE * 1.01)
    rest = _dist("dynamic", "dynamic", FREE_OVERFLOW - FREE * 0.01, bundle=True)
    others = [*_pro(a1, 1), *_pro(a2, 2), *_pro(f2, 4, "FREE"), *_pro(over, 3, "FREE")[1:], rest]
    why = unpriced(over, cfg, catalog, others).reason
    assert "exceeds the Free plan's 1,000,000 requests/month" in why


def test_check_refuses_a_fourth_free_plan(catalog: Catalog) -> None:
    """An account holds at most three Free plans: the fourth plan's fee is refused, not priced at USD 0."""
    cfg = _phase1(asset_overflow_share=FREE_OVERFLOW, free_asset_distributions=2, free_asset_share=FREE)
    frees = [_pro(_dist(f"free{i}", "assets", 0.25), i, "FREE") for i in (1, 2, 3, 4)]
    resources = [r for group in frees for r in group]
    est = estimate(resources, cfg, catalog)
    reasons = {u.name: u.reason for u in est.unpriced}
    assert "4 Free flat-rate plans: an account holds at most 3" in reasons["plan1"]


def test_fit_adds_free_plans_only_where_an_overflow_is_left(catalog: Catalog) -> None:
    space = Space(load_stack_file(ROOT / "Pulumi.phase1.yaml"), catalog, load_model(catalog))
    # two Pro plans leave 4.09 M requests: one or two Free plans (four distributions at most) leave some
    assert space.free_beside("pro", 2) == [1, 2]
    assert space.free_beside("pro", 1) == [1, 2, 3]  # 14.09 M left: three Free plans carry 3 M
    assert space.free_beside("free", 3) == [] and space.free_beside("pay_as_you_go", 1) == []
    options = list(space.cdn_options(via_cdn=True))
    assert ("pro", 2, True, True, True, 2) in options
    assert not [o for o in options if o[5] and not o[4]]  # never without an overflow
    shape = replace(Shape(), cdn_plan="pro", asset_distributions=2, asset_overflow=True, free_distributions=2)
    update: dict[str, Any] = space._overflow(_phase1(), shape)  # values as the stack file holds them
    assert update["free_asset_share"] == pytest.approx(FREE, rel=1e-6)
    assert update["asset_overflow_share"] == pytest.approx(FREE_OVERFLOW, rel=1e-6)
    assert update["asset_overflow_share"] > FREE_OVERFLOW  # the plans a billionth below their allowance


def test_free_plans_that_carry_the_whole_rest_are_searched(catalog: Catalog, tmp_path: Path) -> None:
    """The independent fit review's F1, by hand: phase 2 at 0.05 GB per user with a domain. Assets 10.44 M
    requests and 1,043.7 GB a month; one Pro plan carries 10 M requests (95.8%), the rest 4.19% = 0.44 M
    requests and 43.7 GB fits one Free plan (1 M requests, 100 GB). fit put the rest pay as you go (TZS
    690,904); 1 Pro + 1 Free with the overflow standing by at share 0 is TZS 677,279 by check's rules
    (681,579 from the kept benchmark runs before 2026-12-06, which measured more CPU per delivery)."""
    text = (ROOT / "Pulumi.phase2.yaml").read_text(encoding="utf-8")
    low = text.replace("transfer_gb_per_user_per_month: 0.3", "transfer_gb_per_user_per_month: 0.05")
    assert low != text
    path = tmp_path / "Pulumi.phase2.yaml"
    path.write_text(low, encoding="utf-8")
    cfg = with_domain(load_stack_file(path), "api.example.org")
    space = Space(cfg, catalog, load_model(catalog))
    assert space.free_beside("pro", 1) == [1]  # nothing left over with one: before, none was tried
    result = search(cfg, catalog, load_model(catalog), Pricer(catalog))
    assert result.best is not None
    best = result.best.priced.cfg.cdn
    assert (best.plan, best.asset_distributions, best.free_asset_distributions) == ("pro", 1, 1)
    assert best.asset_overflow_share == 0.0 and best.free_asset_share == pytest.approx(0.041851909589146086)
    assert round(result.best.priced.tzs()) == 677_279


@pytest.mark.parametrize(
    ("free", "share", "ok"),
    [(1, 0.04, True), (0, 0.0, False)],
)
def test_an_overflow_at_share_0_needs_free_plans_that_carry_the_rest(
    free: int, share: float, ok: bool
) -> None:
    cdn = {
        **load_stack_file(ROOT / "Pulumi.phase1.yaml").cdn.model_dump(),
        "plan": "pro",
        "asset_distributions": 1,
        "dynamic_distribution": True,
        "asset_overflow": "pay_as_you_go",
        "asset_overflow_share": 0.0,
        "free_asset_distributions": free,
        "free_asset_share": share,
    }
    if ok:
        assert CdnConfig.model_validate(cdn).asset_overflow_share == 0.0
    else:
        with pytest.raises(ValueError, match="or Free-plan distributions that carry the whole rest"):
            CdnConfig.model_validate(cdn)


def test_a_distribution_standing_by_carries_a_share_of_0() -> None:
    standing = res(
        "aws:cloudfront/distribution:Distribution", "cdn-dynamic", {"tags": {"asset_share": "0.0"}}
    )
    assert asset_share(standing, [standing]) == 0.0
    for bad in ("-0.1", "1.5", "nan"):
        broken = res(
            "aws:cloudfront/distribution:Distribution", "cdn-dynamic", {"tags": {"asset_share": bad}}
        )
        with pytest.raises(RuleError, match="is not a share"):
            asset_share(broken, [broken])
