"""Where AWS bills a resource: the one region function the check and the policy pack share.

A resource is billed in the region of the provider that manages it: the default provider's (the stack's
``aws:region``) or an explicit ``pulumi:providers:aws`` resource's own ``region`` input (e.g. an ACM
certificate or a CloudFront web ACL in us-east-1). pulumi-aws v7 also lets a resource name its own
``region``, which wins. The check reads providers from a ``pulumi preview --json`` document
(:mod:`budget.preview`), the pack from the engine's view of the stack (:mod:`policy.resources`); both ask
:func:`region_of`, so a resource is priced in the same region whichever way it is checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from budget.rules.base import opaque

AWS_PROVIDER = "pulumi:providers:aws"
#: An AWS region name (``us-east-1``, ``af-south-1``, ``us-gov-west-1``, ``cn-north-1``).
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class RegionError(ValueError):
    """The region a resource is billed in cannot be told: a priced resource is unpriced (fail closed)."""


@dataclass(frozen=True)
class ProviderView:
    """The provider that manages a resource, as either input describes it: its type, name and inputs."""

    type: str | None
    name: str | None
    inputs: Mapping[str, Any] | None


def region_of(own: Any, provider: ProviderView | None, unknown: Callable[[Any], bool] = opaque) -> str:
    """Where AWS bills a resource: its own ``region`` input (pulumi-aws v7) when set, else its provider's.

    ``own`` is the resource's ``region`` *input* (a value the provider computes is not an input);
    ``unknown`` tells the caller's placeholders for values not known until deploy (or secret).
    """
    if own is not None and own != "":
        if unknown(own):
            raise RegionError("its own region input is unknown until deploy")
        return _checked(own, "its own region input")
    if provider is None:
        raise RegionError("it names no provider to take the region from")
    if provider.type != AWS_PROVIDER:
        raise RegionError(f"it is not managed by an AWS provider (provider: {provider.type})")
    region = (provider.inputs or {}).get("region")
    if unknown(region):
        raise RegionError(f"the region of its provider '{provider.name}' is unknown until deploy")
    if not isinstance(region, str) or not region:
        raise RegionError(
            f"its provider '{provider.name}' sets no region (set aws:region, or the"
            " explicit provider's region)"
        )
    return _checked(region, f"the region of its provider '{provider.name}'")


def _checked(region: Any, what: str) -> str:
    if not isinstance(region, str) or not REGION_NAME.match(region):
        raise RegionError(f"{what} is not an AWS region name: {str(region)[:40]!r}")
    return region
