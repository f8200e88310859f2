"""Cost allocation tags and names shared by every tier.

Tags are passed explicitly to each resource: provider ``default_tags`` and stack transforms are invisible
under mocks, so the tests (and the budget report, which groups costs by tier) could not see them.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Tag keys every taggable resource must carry.
REQUIRED_TAG_KEYS = ("project", "phase", "tier", "cost-center")


def tier_tags(base: Mapping[str, str], tier: str, name: str | None = None) -> dict[str, str]:
    """The stack's tags plus ``tier`` (and a ``Name`` for the console when given)."""
    tags = {**base, "tier": tier}
    if name is not None:
        tags["Name"] = name
    return tags


def asg_tags(tags: Mapping[str, str]) -> list[dict[str, object]]:
    """Auto-scaling groups take a list of tags; propagate them so instances and volumes carry them too."""
    return [{"key": k, "value": v, "propagate_at_launch": True} for k, v in sorted(tags.items())]
