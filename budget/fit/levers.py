"""Levers that need the owner's input, priced beside the plan the stack allows today.

A domain of your own is the one that decides the small phases. Without ``stars:loadBalancer.domain`` the
load balancer has no certificate, so every client connection (API and WebSocket) must cross CloudFront with
its default certificate: CloudFront bills each API request and byte, the load balancer is internal behind a
CloudFront VPC origin, and direct WebSockets and flat-rate plans for /ws are out of the search. With a
domain, ACM issues the load balancer's certificate for free (DNS validation) and the whole search space
serves TLS. Fit cannot invent the domain, so it prices the
lever with a stand-in name and says how to take it: ``budget fit --domain NAME`` searches with it, and
``--write`` writes it into the stack file.

With a domain, /ws can leave the public load balancer: CloudFront carries it to an internal NLB of its own
through a VPC origin (``stars:loadBalancer.websocket_origin: vpc_origin``), and the public NLB's TLS
listener carries the API alone. It is searched like any shape; :func:`websocket_lever` says whether the
cheapest plan takes it, what it saves against the cheapest plan that does not, and the assumption it rests
on: the API connections users hold open (``stars:demand.api_keep_alive_s``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from budget.capacity import CapacityModel
from budget.catalog import Catalog
from budget.fit import howfar
from budget.fit.pricer import Pricer
from budget.fit.report import Lever, LeverStatus, Sensitivity
from budget.fit.search import SearchResult, search
from components.config import LoadBalancerConfig, StackConfig

#: Priced with this stand-in (RFC 2606 reserves example.org); nothing is written with it.
STAND_IN_DOMAIN = "api.example.org"
HOSTED_ZONE = "route53.hosted_zone"
TITLE = "a domain of your own on the load balancer (ACM certificate free, Route 53 hosted zone)"
WEBSOCKET_KEY = "websocket_vpc_origin"
WEBSOCKET_TITLE = (
    "/ws on an internal NLB of its own behind a CloudFront VPC origin, the API alone on the public NLB (TLS)"
)


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


def owner_levers(
    cfg: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    result: SearchResult,
    best_tzs: float | None,
) -> list[Lever]:
    """The domain lever, and the /ws load balancer of its own, which only a domain opens: judged on the
    stack's own search with a domain, else on the search with the stand-in name."""
    if cfg.load_balancer.tls:
        return [domain_lever(cfg, catalog, model, pricer, best_tzs), websocket_lever(cfg, catalog, result)]
    with_one = search(with_domain(cfg, STAND_IN_DOMAIN), catalog, model, pricer)
    return [
        domain_lever(cfg, catalog, model, pricer, best_tzs, with_one),
        websocket_lever(cfg, catalog, with_one, needs_domain=True),
    ]


def domain_lever(
    cfg: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    best_tzs: float | None,
    with_one: SearchResult | None = None,
) -> Lever:
    """The domain lever: used when the stack names one, else priced with a stand-in name (``with_one``: that
    search, when already run)."""
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
    with_one = with_one or search(with_domain(cfg, STAND_IN_DOMAIN), catalog, model, pricer)
    found = with_one.best
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
        # the verdict then leads the report: show how firm it is, as the stack's own verdict is shown
        sensitivity=domain_sensitivity(cfg, catalog, model, pricer, with_one, zone_tzs)
        if total <= limit
        else None,
        why=f"with one the cheapest plan costs TZS {total:,.0f} a month with the hosted zone ({verdict} the"
        f" limit of TZS {limit:,}); run `budget fit --stack {cfg.stack} --domain NAME` with a name you"
        " control to search with it, and --write to write it",
    )


def domain_sensitivity(
    cfg: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    with_one: SearchResult,
    zone_tzs: float,
) -> Sensitivity:
    """The domain plan's verdict at each transfer per user and each headroom, its hosted zone counted
    (``with_one``: the domain search, whose tier choices the transfer searches reuse, as the stack's own
    sensitivity reuses its search's)."""
    assert with_one.best is not None
    domain = with_domain(cfg, STAND_IN_DOMAIN)
    headroom = model.settings.headroom
    return Sensitivity(
        transfer_gb_per_user_per_month=howfar.transfer_verdicts(
            domain, catalog, model, pricer, with_one.tiers, outside_tzs=zone_tzs
        ),
        headroom=howfar.verdicts_by_headroom(
            domain,
            catalog,
            model,
            pricer,
            {headroom: with_one.best.tzs},
            sorted({*howfar.HEADROOMS, headroom}),
            outside_tzs=zone_tzs,
        ),
    )


def _tls_per_nlcu(cfg: StackConfig, catalog: Catalog) -> float:
    return catalog.get(cfg.region, "elb.nlb.nlcu.tls.active_connections").amount


def websocket_lever(
    cfg: StackConfig, catalog: Catalog, result: SearchResult, needs_domain: bool = False
) -> Lever:
    """/ws on an internal NLB of its own: used when the cheapest plan takes it, else rejected with what the
    cheapest plan with it costs more; with ``needs_domain`` (the stack names none) it waits on the domain."""
    source = "elb.nlb.nlcu.tls.active_connections, elb.nlb.nlcu.tcp.active_connections (budget/catalog)"

    def lever(status: LeverStatus, why: str, **priced: Any) -> Lever:
        return Lever(
            key=WEBSOCKET_KEY, title=WEBSOCKET_TITLE, status=status, why=why, sources=[source], **priced
        )

    split = [c for c in result.per_shape if c.choice.shape.websocket_origin == "vpc_origin"]
    single = [c for c in result.per_shape if c.choice.shape.websocket_origin != "vpc_origin"]
    if not split or not single or result.best is None:
        return lever(
            "not_applicable", "no shape with a certificate, an NLB and /ws through CloudFront was priced"
        )
    with_it, without = min(split, key=lambda c: c.tzs), min(single, key=lambda c: c.tzs)
    saves = round(without.tzs - with_it.tzs)
    used = result.best.choice.shape.websocket_origin == "vpc_origin"
    assumption = _api_connections_assumption(cfg, catalog, with_it.priced.cfg)
    versus = f"the cheapest plan with /ws on the public load balancer costs TZS {without.tzs:,.0f}"
    if not used:
        return lever(
            "rejected",
            f"the cheapest plan with it costs TZS {with_it.tzs:,.0f}; {versus}",
            saves_tzs=saves,
            deciding_assumption=assumption,
        )
    if needs_domain:
        return lever(
            "needs_input",
            f"the cheapest plan with a domain takes it (TZS {with_it.tzs:,.0f} without the hosted zone);"
            f" {versus}",
            saves_tzs=saves,
            deciding_assumption=assumption,
        )
    return lever("used", f"{versus}", saves_tzs=saves, deciding_assumption=assumption)


def _api_connections_assumption(cfg: StackConfig, catalog: Catalog, split: StackConfig) -> str:
    """The assumption the split rests on, with its figures: the API connections users hold open on the
    public NLB's TLS listener, against the WebSockets' the split takes off it."""
    d = split.demand
    usage = split.usage
    per = _tls_per_nlcu(cfg, catalog)
    keep = d.api_keep_alive_s if d else 0.0
    held = d.api_connections_per_user if d else 0.0
    public, ws = usage.alb_active_connections, usage.websocket_lb_active_connections
    return (
        f"stars:demand.api_keep_alive_s = {keep:g} s (uvicorn's timeout_keep_alive default, which the"
        " runtime leaves; an assumption about clients: none keeps an API connection beyond it): users hold"
        f" at most {held:g} API connections each, {public:,.0f} on the public NLB's TLS listener"
        f" ({public / per:.2f} NLCU, under its {usage.alb_processed_gb_per_hour:g} GB/h). They bill on a"
        " single public NLB too, so what the split saves is the WebSockets' TLS connections,"
        f" {ws:,.0f} ({ws / per:.2f} NLCU), against a second NLB's hours"
    )
