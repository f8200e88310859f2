"""Levers that need the owner's input, priced beside the plan the stack allows today.

A domain of your own is the one that decides the small phases. Without ``stars:loadBalancer.domain`` the
load balancer has no certificate, so every client connection (API and WebSocket) must cross CloudFront with
its default certificate: CloudFront bills each API request and byte, the load balancer is internal behind a
CloudFront VPC origin, and direct WebSockets and flat-rate plans for /ws are out of the search. With a
domain, ACM issues the load balancer's certificate for free (DNS validation) and the whole search space
serves TLS. Fit cannot invent the domain, so it prices the
lever with a stand-in name and says how to take it: ``budget fit --domain NAME`` searches with it, and
``--write`` writes it into the stack file.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from budget.capacity import CapacityModel
from budget.catalog import Catalog
from budget.fit.pricer import Pricer
from budget.fit.report import Lever, LeverStatus
from budget.fit.search import search
from components.config import LoadBalancerConfig, StackConfig

#: Priced with this stand-in (RFC 2606 reserves example.org); nothing is written with it.
STAND_IN_DOMAIN = "api.example.org"
HOSTED_ZONE = "route53.hosted_zone"
TITLE = "a domain of your own on the load balancer (ACM certificate free, Route 53 hosted zone)"


def with_domain(cfg: StackConfig, domain: str) -> StackConfig:
    """``cfg`` with ``stars:loadBalancer.domain`` set; a name the stack file would refuse raises ValueError
    with the stack file's own message."""
    try:
        # a domain puts TLS on a public load balancer (an internal one has no name clients could reach)
        lb = LoadBalancerConfig.model_validate(
            {**cfg.load_balancer.model_dump(), "domain": domain, "origin": "public"}
        )
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    return cfg.model_copy(update={"load_balancer": lb})


def hosted_zone_tzs(cfg: StackConfig, catalog: Catalog) -> tuple[float, str]:
    """A month of one hosted zone in TZS, and the price's source (outside the stack: not in its total)."""
    price = catalog.get(cfg.region, HOSTED_ZONE)
    return price.amount * cfg.budget.usd_to_tzs, f"{HOSTED_ZONE}: {price.source} [{price.status}]"


def domain_lever(
    cfg: StackConfig, catalog: Catalog, model: CapacityModel, pricer: Pricer, best_tzs: float | None
) -> Lever:
    """The domain lever: used when the stack names one, else priced with a stand-in name."""
    zone_tzs, source = hosted_zone_tzs(cfg, catalog)

    def lever(status: LeverStatus, why: str, **priced: Any) -> Lever:
        return Lever(key="domain", title=TITLE, status=status, why=why, sources=[source], **priced)

    lb = cfg.load_balancer
    if lb.tls:
        named = f"stars:loadBalancer.domain {lb.domain}" if lb.domain else "its certificate_arn"
        return lever(
            "used",
            f"{named}: the load balancer terminates TLS itself, so every shape is searched; its hosted"
            f" zone (TZS {zone_tzs:,.0f} a month) is outside the stack",
        )
    found = search(with_domain(cfg, STAND_IN_DOMAIN), catalog, model, pricer).best
    if found is None:
        return lever("rejected", "no plan carries the users even with a domain")
    total = found.tzs + zone_tzs
    limit = cfg.budget.limit_tzs
    verdict = "fits" if total <= limit else "does not fit"
    return lever(
        "needs_input",
        saves_tzs=None if best_tzs is None else round(best_tzs - total),
        total_tzs=round(total),
        fits=total <= limit,
        why=f"with one the cheapest plan costs TZS {total:,.0f} a month with the hosted zone ({verdict} the"
        f" limit of TZS {limit:,}); run `budget fit --stack {cfg.stack} --domain NAME` with a name you"
        " control to search with it, and --write to write it",
    )
