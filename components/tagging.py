"""Cost allocation tags and names shared by every tier.

Tags are passed explicitly to each resource: provider ``default_tags`` and stack transforms are invisible
under mocks, so the tests (and the budget report, which groups costs by tier) could not see them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pulumi_aws as aws

#: Tag keys every taggable resource must carry.
REQUIRED_TAG_KEYS = ("project", "phase", "tier", "cost-center")


def tier_tags(base: Mapping[str, str], tier: str, name: str | None = None) -> dict[str, str]:
    """The stack's tags plus ``tier`` (and a ``Name`` for the console when given)."""
    tags = {**base, "tier": tier}
    if name is not None:
        tags["Name"] = name
    return tags


def asg_tags(tags: Mapping[str, str], *, propagate: bool = True) -> list[aws.autoscaling.GroupTagArgsDict]:
    """Auto-scaling groups take a list of tags; propagated ones reach the instances and volumes too."""
    return [{"key": k, "value": v, "propagate_at_launch": propagate} for k, v in sorted(tags.items())]


#: Cost allocation tag that records a purchase commitment for a resource's always-on capacity. The
#: reservation itself is bought in Billing; the tag carries the stack's intent into the plan (mocks and
#: ``pulumi preview --json`` alike), so the budget rules price the reserved rate.
PURCHASE_TAG = "purchase"
#: Tag value per ``commitment`` config value; ``none`` adds no tag (on demand is the default price).
PURCHASE_VALUES = {"reserved_1yr": "reserved-1yr"}
#: The ``purchase`` value of a CloudFront distribution billed under a Security Savings Bundle (1 year).
SAVINGS_BUNDLE = "savings-bundle-1yr"
#: What a CloudFront distribution carries, for the budget rules: ``assets`` (the assets' share, the same on
#: each assets distribution) or ``dynamic`` (/ws and the API, pay as you go).
TRAFFIC_TAG = "traffic"
#: The ``traffic`` value of the internal load balancer that carries /ws alone (``websocket_origin:
#: vpc_origin``): the rules price it on the ``websocket_lb_*`` usage figures, the other on ``alb_*``.
WEBSOCKET_TRAFFIC = "websocket"
#: The share of the assets' traffic (requests and bytes alike) a distribution carries, when the assets are
#: split unevenly (flat-rate plans filled to their allowance, the rest pay as you go); without it every
#: ``assets`` distribution carries an equal share and a ``dynamic`` one none.
ASSET_SHARE_TAG = "asset_share"


def purchase_tags(commitment: str) -> dict[str, str]:
    """``{"purchase": "reserved-1yr"}`` for a 1-year reservation, nothing for ``none``."""
    value = PURCHASE_VALUES.get(commitment)
    return {PURCHASE_TAG: value} if value else {}
