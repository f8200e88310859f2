"""Whether a distribution carries the runtime's WebSockets, read from the distribution itself: the ``/ws``
behaviors components/cdn.py registers, to its custom (load balancer) origin. The CloudFront rule asks this
before the stack config, so a stack policy that sees only resources prices a flat-rate plan as check does."""

from __future__ import annotations

from typing import Any

import pytest

from budget.rules.base import SECRET, UNKNOWN, RuleError
from budget.rules.cloudfront_distribution import carries_websockets
from components.cdn import (
    ORIGIN_ID,
    WEBSOCKET_PATHS,
    WebSocketOrigin,
    websocket_behaviors,
    websocket_custom_origin,
)
from tests.budget.budget_helpers import res, stack_cfg, unpriced

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
DIST_ID = "EDISTRIBUTION1"
WAF_ID = "0000aaaa-1111-4222-8333-444455556666"
S3_ORIGIN = {"originId": ORIGIN_ID, "domainName": "assets.s3.af-south-1.amazonaws.com"}


def _camel(value: Any) -> Any:
    """The program's snake_case arguments as the engine records them (camelCase inputs)."""
    if isinstance(value, dict):
        return {
            k.split("_")[0] + "".join(p.capitalize() for p in k.split("_")[1:]): _camel(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _distribution(behaviors: Any, origins: Any) -> Any:
    inputs = {"priceClass": "PriceClass_100", "orderedCacheBehaviors": behaviors, "origins": origins}
    return res(DISTRIBUTION, "cdn-distribution", inputs, id_=DIST_ID)


LB_ORIGIN = _camel(websocket_custom_origin(WebSocketOrigin("edge-alb.elb.amazonaws.com", 80, https=False)))
WS_BEHAVIORS = _camel(websocket_behaviors())


def test_the_programs_websocket_routes_are_recognised() -> None:
    assert [b["pathPattern"] for b in WS_BEHAVIORS] == list(WEBSOCKET_PATHS)
    assert carries_websockets(_distribution(WS_BEHAVIORS, [S3_ORIGIN, LB_ORIGIN]))
    for behavior in WS_BEHAVIORS:  # either path alone routes WebSockets
        assert carries_websockets(_distribution([behavior], [S3_ORIGIN, LB_ORIGIN]))


@pytest.mark.parametrize(
    ("behaviors", "origins"),
    [
        ([], [S3_ORIGIN]),  # static assets only
        ([{**WS_BEHAVIORS[0], "targetOriginId": ORIGIN_ID}], [S3_ORIGIN, LB_ORIGIN]),  # /ws to S3
        ([{**WS_BEHAVIORS[0], "pathPattern": "/api/*"}], [S3_ORIGIN, LB_ORIGIN]),  # not /ws
        (None, None),  # no behaviors at all (a pay-as-you-go distribution without /ws)
    ],
)
def test_other_routes_are_not_websockets(behaviors: Any, origins: Any) -> None:
    assert not carries_websockets(_distribution(behaviors, origins))


def test_an_unknown_route_counts_as_websockets_or_cannot_be_told() -> None:
    unknown_path = [{**WS_BEHAVIORS[0], "pathPattern": UNKNOWN}]
    assert carries_websockets(_distribution(unknown_path, [S3_ORIGIN, LB_ORIGIN]))
    with pytest.raises(RuleError, match="unknown until deploy"):
        carries_websockets(_distribution(UNKNOWN, [S3_ORIGIN]))


@pytest.mark.parametrize(
    ("hidden", "why"), [(UNKNOWN, "unknown until deploy"), (SECRET, "a secret in the preview")]
)
def test_a_hidden_route_target_or_behavior_list_is_never_read_as_no_websockets(
    hidden: str, why: str, catalog: Any
) -> None:
    """Regression: a secret targetOriginId on /ws read as "no WebSockets" (only the unknown marker was
    recognised), and a hidden behavior list was spread character by character instead of failing closed.
    The reason names which of the two the value is: a secret is not "unknown until deploy"."""
    hidden_target = [{**WS_BEHAVIORS[0], "targetOriginId": hidden}]
    assert carries_websockets(_distribution(hidden_target, [S3_ORIGIN, LB_ORIGIN]))
    reason = unpriced(_distribution(hidden, [S3_ORIGIN]), stack_cfg("phase1"), catalog).reason
    assert reason == f"input 'orderedCacheBehaviors' is {why}"
    with pytest.raises(RuleError) as refused:
        carries_websockets(_distribution(hidden, [S3_ORIGIN]))
    assert str(refused.value) == f"its cache behaviors are {why}: /ws routing cannot be told"


def test_on_a_plan_the_distributions_route_decides_without_the_config_flag(catalog: Any) -> None:
    cfg = stack_cfg("phase1")
    assert not cfg.load_balancer.websockets_via_cdn
    dist = _distribution(WS_BEHAVIORS, [S3_ORIGIN, LB_ORIGIN])
    plan = res(
        "aws:pricingplanmanager/subscription:Subscription",
        "cdn-plan",
        {
            "planFamily": "CloudFront",
            "planTier": "BUSINESS",
            "usageLevel": "DEFAULT",
            "resourceArns": [
                f"arn:aws:cloudfront::123456789012:distribution/{DIST_ID}",
                f"arn:aws:wafv2:us-east-1:123456789012:global/webacl/cdn-waf/{WAF_ID}",
            ],
        },
        id_="sub-1",
    )
    waf = res("aws:wafv2/webAcl:WebAcl", "cdn-waf", {"scope": "CLOUDFRONT"}, id_=WAF_ID)
    reason = unpriced(dist, cfg, catalog, [plan, waf]).reason
    assert "WebSocket traffic through a distribution on the Business flat-rate plan" in reason
