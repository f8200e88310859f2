"""Load balancers (ALB, NLB): hours, capacity units from usage, public IPv4 addresses, and internet egress.

ALB: LCU (infracost, AWS) is the highest of new connections/s / 25, active connections / 3,000, processed
GB/h / 1 and rule evaluations/s / 1,000. NLB: NLCU is the highest of its own dimensions, which depend on the
listeners' protocol (TCP: 800 new connections/s, 100,000 active connections, 1 GB/h; TLS: 50 new
connections/s, 3,000 active, 1 GB/h; catalog figures, RECALLED); the load balancer's usage figures
(``alb_new_connections_per_second``, ``alb_active_connections``, ``alb_processed_gb_per_hour``) are the
traffic either kind carries. The line names the dimension that drives it. Data transfer out to the internet
(WebSocket and API responses that leave through the load balancer) is caused by its targets answering
viewers, so it is here, on the first load balancer.

A load balancer tagged ``traffic = websocket`` is the internal one behind CloudFront's VPC origin that
carries /ws alone (``stars:loadBalancer.websocket_origin: vpc_origin``): it is priced on its own figures
(``websocket_lb_new_connections_per_second``, ``websocket_lb_active_connections``,
``websocket_lb_processed_gb_per_hour``; no rule evaluations, no internet egress: its bytes leave through
CloudFront), and the ``alb_*`` figures are then the public load balancer's, the API's alone.
"""

from __future__ import annotations

from budget.catalog import Price
from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError, flag, known
from budget.rules.volume_tiers import INTERNET_TIERS, tiered_lines
from components.config import UsageConfig
from components.tagging import TRAFFIC_TAG, WEBSOCKET_TRAFFIC

TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENER_TYPES = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
#: One LCU per dimension (CONFIRMED-3P in the price reference: internettoolset.com load-balancer calculator).
LCU_DIMENSIONS = (
    ("new connections/s", "alb_new_connections_per_second", 25.0),
    ("active connections", "alb_active_connections", 3000.0),
    ("processed GB/h", "alb_processed_gb_per_hour", 1.0),
    ("rule evaluations/s", "alb_rule_evaluations_per_second", 1000.0),
)
#: NLCU dimensions per listener protocol: (label, usage field, catalog key of one NLCU's worth).
NLCU_DIMENSIONS = {
    protocol: (
        (
            "new connections/s",
            "alb_new_connections_per_second",
            f"elb.nlb.nlcu.{kind}.new_connections_per_second",
        ),
        ("active connections", "alb_active_connections", f"elb.nlb.nlcu.{kind}.active_connections"),
        ("processed GB/h", "alb_processed_gb_per_hour", "elb.nlb.nlcu.processed_gb_per_hour"),
    )
    for protocol, kind in (("TCP", "tcp"), ("TLS", "tls"))
}
#: The usage figure each ``alb_*`` one stands for on the internal /ws load balancer (None: it has none).
WEBSOCKET_FIGURES: dict[str, str | None] = {
    "alb_new_connections_per_second": "websocket_lb_new_connections_per_second",
    "alb_active_connections": "websocket_lb_active_connections",
    "alb_processed_gb_per_hour": "websocket_lb_processed_gb_per_hour",
    "alb_rule_evaluations_per_second": None,
}


def carries_websockets(lb: PlannedResource) -> bool:
    """Whether ``lb`` is the internal /ws load balancer (its ``traffic`` tag); another value is refused."""
    tags = known(lb.inputs.get("tags"), "input 'tags'") or {}
    value = known(tags.get(TRAFFIC_TAG), f"tag {TRAFFIC_TAG}") if isinstance(tags, dict) else None
    if value is not None and value != WEBSOCKET_TRAFFIC:
        raise RuleError(f"tag {TRAFFIC_TAG}={value!r} has no load balancer usage figures (known: websocket)")
    return value == WEBSOCKET_TRAFFIC


def usage_of(lb: PlannedResource, usage: UsageConfig) -> UsageConfig:
    """The usage block as ``lb`` is priced on it: the internal /ws load balancer's figures in the ``alb_*``
    fields, or the block itself."""
    if not carries_websockets(lb):
        return usage
    own = {alb: float(getattr(usage, ws)) if ws else 0.0 for alb, ws in WEBSOCKET_FIGURES.items()}
    if not any(own.values()) and usage.cloudfront_websocket_egress_gb:
        raise RuleError(
            "the /ws load balancer has no usage figures (websocket_lb_*) while WebSockets go through"
            " CloudFront: its capacity units cannot be priced"
        )
    return usage.model_copy(update=own)


def lcu(usage: UsageConfig) -> tuple[float, str]:
    """Average LCUs and a description of the driving dimension."""
    best, why = 0.0, "no usage"
    for label, field, per_lcu in LCU_DIMENSIONS:
        value = float(getattr(usage, field))
        units = value / per_lcu
        if units > best:
            best, why = units, f"{label} {value:,.6g} / {per_lcu:,.0f} = {units:,.2f} LCU"
    return best, why


def nlcu(usage: UsageConfig, protocol: str, ctx: RuleContext) -> tuple[float, str, list[Price]]:
    """Average NLCUs for ``protocol`` listeners, the driving dimension, and the figures it rests on."""
    best, why = 0.0, "no usage"
    dimensions = [(label, field, ctx.price(key)) for label, field, key in NLCU_DIMENSIONS[protocol]]
    used = [p for _, _, p in dimensions]
    for label, field, per in dimensions:
        value = float(getattr(usage, field))
        units = value / per.amount
        if units > best:
            best, why, used = (
                units,
                f"{protocol} {label} {value:,.6g} / {per.amount:,.0f} = {units:,.2f} NLCU",
                [per],
            )
    return best, why, used


def listener_protocol(lb: PlannedResource, ctx: RuleContext) -> str:
    """The one protocol of the NLB's listeners (it decides the NLCU dimensions)."""
    protocols: set[str] = set()
    for listener in ctx.of_type(*LISTENER_TYPES):
        owner = ctx.linked(listener, "loadBalancerArn", listener.inputs.get("loadBalancerArn"), TYPES)
        if owner is not None and owner.urn == lb.urn:
            # A missing protocol is not guessed: TCP's dimensions are 16x looser than TLS's.
            protocols.add(str(known(listener.inputs.get("protocol"), f"listener '{listener.name}' protocol")))
    if not protocols:
        raise RuleError("no listener of this network load balancer found: their protocol decides the NLCUs")
    unknown = protocols - set(NLCU_DIMENSIONS)
    if unknown or len(protocols) > 1:
        raise RuleError(
            f"listener protocols {sorted(protocols)}: only all-TCP or all-TLS are priced (the usage block"
            " does not split the traffic by protocol)"
        )
    return protocols.pop()


def price(lb: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    inputs = lb.inputs
    usage = usage_of(lb, ctx.inputs.usage)
    websocket = carries_websockets(lb)
    # only CloudFront reaches the /ws one: its name is never a viewer's, its bytes leave through CloudFront
    label = " (internal, /ws behind a CloudFront VPC origin)" if websocket else ""
    kind = known(inputs.get("loadBalancerType"), "input 'loadBalancerType'") or "application"
    if kind == "application":
        lines = [line(f"Application load balancer{label}", "hours", ctx.hours, ctx.price("elb.alb.hour"))]
        units, why = lcu(usage)
        lines.append(
            line(
                f"Load balancer capacity units (driver: {why})",
                "LCU-hours",
                units * ctx.hours,
                ctx.price("elb.alb.lcu_hour"),
                usage_based=True,
            )
        )
    elif kind == "network":
        protocol = listener_protocol(lb, ctx)
        lines = [line(f"Network load balancer{label}", "hours", ctx.hours, ctx.price("elb.nlb.hour"))]
        units, why, figures = nlcu(usage, protocol, ctx)
        lines.append(
            line(
                f"Network load balancer capacity units (driver: {why})",
                "NLCU-hours",
                units * ctx.hours,
                ctx.price("elb.nlb.nlcu_hour"),
                usage_based=True,
                also=figures,
            )
        )
    else:
        raise RuleError(
            f"loadBalancerType '{kind}' has no rule (application and network load balancers are priced)"
        )
    if not flag(inputs, "internal"):
        subnets = known(inputs.get("subnets") or inputs.get("subnetMappings"), "input 'subnets'") or []
        if not isinstance(subnets, list) or not subnets:
            raise RuleError("internet-facing load balancer without subnets: its public addresses are unknown")
        lines.append(
            line(
                f"Public IPv4 addresses (one per subnet, {len(subnets)})",
                "hours",
                len(subnets) * ctx.hours,
                ctx.price("vpc.public_ipv4"),
            )
        )
    public = [r for r in ctx.of_type(*TYPES) if not carries_websockets(r)]
    if not websocket and public and public[0].urn == lb.urn:
        lines.extend(
            tiered_lines(
                ctx,
                "Data transfer out to internet",
                ctx.inputs.usage.internet_egress_gb,
                "transfer.internet",
                INTERNET_TIERS,
                ctx.price("transfer.internet.free_gb"),
            )
        )
    return lines
