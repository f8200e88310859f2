"""Load-balancing tier (``edge``): the load balancer, one target group per server tier, and listeners.

Two kinds, chosen by ``stars:loadBalancer.type``:

- ``application`` (ALB): one web listener (80, or 443 with a certificate and 80 redirecting); the first
  server tier is its default, and ``/ws`` and ``/ws/*`` go to the ``realtime`` tier when there is one.
- ``network`` (NLB): TCP listeners (TLS with a certificate) cannot route by path, so each server tier gets
  its own port: the first tier the web port (80 or 443), the ``realtime`` tier of a split layout 8080 or 8443.
  A layout with one combined tier needs one listener. Target groups and listeners are keyed by tier name.

With separate ``api`` and ``realtime`` tiers, ``/ws`` goes to realtime and the rest to api; a combined ``app``
tier serves both on one port, so its target group is the listener's default and no rule is needed.

TLS: with ``domain`` the edge requests an ACM certificate for it (DNS validation: with ``zone_id`` the
validation record and an alias record to the load balancer are created in that Route 53 zone, otherwise
``pulumi up`` waits until the operator adds the record the stack outputs), or uses ``certificate_arn``;
plain HTTP then only redirects. Without either, the load balancer has no certificate a client could
verify, so it is no public endpoint at all: CloudFront (its default certificate) carries every client
connection, the security group admits only CloudFront's origin-facing prefix list on port 80, and the
listener answers 403 unless the request carries the secret origin header that only this stack's
distribution sends. That last hop (CloudFront to the load balancer, inside AWS's network) is plain HTTP:
it cannot be verified TLS without a certificate for a name the stack owns.

With ``origin: vpc_origin`` (no certificate) the load balancer is internal instead: in the private
subnets, with no public endpoint and no public IPv4 address, reached only by CloudFront through a VPC origin
(components/cdn.py) inside the VPC. No origin header is needed, so its HTTP listener forwards (an ALB routes
``/ws`` by path); an NLB gets a plain TCP listener per tier, which only the combined ``app`` layout can use
(one port for the API and ``/ws``: a VPC origin reaches one port).

With ``websocket_origin: vpc_origin`` (a certificate on the public load balancer) ``/ws`` gets a load balancer
of its own: the public one serves the API alone (TLS), and a second, internal one of the same type (a child
``Edge`` named ``<name>-ws``, tagged ``traffic = websocket``) serves the tiers behind ``/ws`` on one plain
port, reached only by CloudFront through a VPC origin. Viewers' WebSockets are WSS to CloudFront; the
public load balancer no longer carries an idle TLS connection per user.

WebSockets need a long idle timeout (clients also ping) and a deregistration delay that gives the runtime
time to drain (close 1001, clients resume on another server with their last offset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.network import APP_PORT
from components.tagging import TRAFFIC_TAG, WEBSOCKET_TRAFFIC, tier_tags

#: Modern TLS policy (TLS 1.3 and 1.2 only), for HTTPS (ALB) and TLS (NLB) listeners.
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH_CHECK_PATH = "/healthz"
#: Seconds between health checks (an NLB accepts 5-300 s, an ALB 5-300 s).
HEALTH_CHECK_INTERVAL = 15
#: The runtime's WebSocket paths: routed to the realtime tier here and through CloudFront (components/cdn.py).
WEBSOCKET_PATHS = ("/ws", "/ws/*")
#: The server tier that carries WebSockets in a split layout (``api`` + ``realtime``).
REALTIME_TIER = "realtime"
#: Default server tiers: the split layout.
SERVER_TIERS: tuple[str, ...] = ("api", "realtime")
#: The ALB's public ports: HTTP, and HTTPS once a certificate exists (HTTP then redirects).
ALB_PORTS = (80, 443)
#: NLB listener ports (plain TCP, TLS): the first tier's web port, and the realtime tier's own port.
NLB_WEB_PORTS = {False: 80, True: 443}
NLB_REALTIME_PORTS = {False: 8080, True: 8443}

REDIRECT_TO_HTTPS: aws.lb.ListenerDefaultActionArgsDict = {
    "type": "redirect",
    "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
}
FORBIDDEN: aws.lb.ListenerDefaultActionArgsDict = {
    "type": "fixed-response",
    "fixed_response": {"content_type": "text/plain", "message_body": "forbidden", "status_code": "403"},
}
LoadBalancerType = Literal["application", "network"]
#: The header CloudFront adds to every request to the load balancer origin (without a certificate).
ORIGIN_HEADER = "X-Stars-Origin-Verify"
#: Rule priorities of the header-gated listener (no certificate): /ws first, then everything else.
WS_RULE_PRIORITY = 10
ORIGIN_RULE_PRIORITY = 20


def nlb_listener_ports(tiers: Sequence[str], https: bool) -> dict[str, int]:
    """The NLB port of each server tier: the realtime tier its own, every other tier the web port.

    Only one tier may take each port: ``("api", "realtime")`` -> ``{"api": 80, "realtime": 8080}``,
    ``("app",)`` -> ``{"app": 80}``; two non-realtime tiers cannot share the web port.
    """
    ports: dict[str, int] = {}
    for tier in tiers:
        port = NLB_REALTIME_PORTS[https] if tier == REALTIME_TIER else NLB_WEB_PORTS[https]
        clash = [t for t, p in ports.items() if p == port]
        if clash:
            raise ValueError(f"server tiers {clash[0]} and {tier} would share NLB port {port}")
        ports[tier] = port
    return ports


def public_ports(
    lb_type: LoadBalancerType, https: bool, tiers: Sequence[str] = SERVER_TIERS
) -> tuple[int, ...]:
    """The ports the load balancer's security group opens to the internet (exactly its listeners')."""
    if lb_type == "application":
        # Without a certificate the one listener (80) admits only CloudFront (components/network.py).
        return ALB_PORTS if https else ALB_PORTS[:1]
    return tuple(sorted(nlb_listener_ports(tiers, https).values()))


def websocket_port(lb_type: LoadBalancerType, https: bool, tiers: Sequence[str] = SERVER_TIERS) -> int:
    """The load balancer port that serves ``/ws`` (what clients or a CloudFront origin connect to)."""
    if lb_type == "application":
        return 443 if https else 80
    ports = nlb_listener_ports(tiers, https)
    return ports.get(REALTIME_TIER, ports[tiers[0]])


@dataclass
class EdgeArgs:
    """Inputs of :class:`Edge` (from ``stars:loadBalancer``)."""

    vpc_id: pulumi.Input[str]
    public_subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    idle_timeout_seconds: int
    deregistration_delay_seconds: int
    certificate_arn: str | None = None
    #: The name clients use: an ACM certificate for it (DNS validation) unless ``certificate_arn`` is set.
    domain: str | None = None
    #: Route 53 zone of ``domain``: the validation record and an alias to the load balancer.
    zone_id: str | None = None
    access_logs_bucket: pulumi.Input[str] | None = None
    load_balancer_type: LoadBalancerType = "application"
    #: Server tiers behind the load balancer; the first is the default (web) target.
    server_tiers: tuple[str, ...] = SERVER_TIERS
    #: No public endpoint: in ``private_subnet_ids``, reached by CloudFront through a VPC origin.
    internal: bool = False
    private_subnet_ids: list[pulumi.Input[str]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    #: Server tiers behind ``/ws`` on a second, internal load balancer (a CloudFront VPC origin's); empty:
    #: ``/ws`` is on this one.
    websocket_tiers: tuple[str, ...] = ()
    #: The ``tier`` tag (default: the component's name; the /ws load balancer keeps its parent's).
    tier: str | None = None


class Edge(pulumi.ComponentResource):
    """ALB (path routing) or NLB (a port per tier) in front of the server tiers: internet-facing, or internal
    behind a CloudFront VPC origin."""

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Edge", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = tier_tags(args.tags, args.tier or name)
        #: NLB listener port per server tier (empty behind an ALB, which serves every tier on 80/443).
        self.ports: dict[str, int] = {}
        self.http_listener: aws.lb.Listener | None = None
        self.https_listener: aws.lb.Listener | None = None
        self.realtime_rule: aws.lb.ListenerRule | None = None
        #: The secret origin header value (only without TLS, where CloudFront is the only client).
        self.origin_secret: pulumi.Output[str] | None = None
        self.validation_records: pulumi.Output[Any] | None = None
        self.certificate_arn = self._certificate(name, args)
        if args.load_balancer_type == "application":
            self.load_balancer = self._alb(name, args)
        else:
            self.load_balancer = self._nlb(name, args)

        self.dns_name = self.load_balancer.dns_name
        #: The internal load balancer behind ``/ws`` (``websocket_tiers``), or None.
        self.websocket_edge: Edge | None = None
        if args.websocket_tiers:
            self.websocket_edge = Edge(
                f"{name}-ws",
                replace(
                    args,
                    internal=True,
                    certificate_arn=None,
                    domain=None,
                    zone_id=None,
                    server_tiers=args.websocket_tiers,
                    websocket_tiers=(),
                    tier=args.tier or name,
                    tags={**args.tags, TRAFFIC_TAG: WEBSOCKET_TRAFFIC},
                ),
                opts=self._child,
            )
        if args.zone_id is not None and args.domain is not None:
            aws.route53.Record(
                f"{name}-alias",
                zone_id=args.zone_id,
                name=args.domain,
                type="A",
                aliases=[
                    {
                        "name": self.load_balancer.dns_name,
                        "zone_id": self.load_balancer.zone_id,
                        "evaluate_target_health": True,
                    }
                ],
                opts=self._child,
            )
        self.register_outputs(
            {
                "load_balancer_arn": self.load_balancer.arn,
                "dns_name": self.load_balancer.dns_name,
                "target_group_arns": {k: tg.arn for k, tg in self.target_groups.items()},
            }
        )

    def _certificate(self, name: str, args: EdgeArgs) -> pulumi.Input[str] | None:
        """The listeners' certificate: the given ARN, or an ACM certificate for ``domain`` once issued."""
        if args.certificate_arn is not None or args.domain is None:
            return args.certificate_arn
        cert = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=args.domain,
            validation_method="DNS",
            tags=self._tags,
            opts=self._child,
        )
        self.validation_records = cert.domain_validation_options
        fqdns: list[pulumi.Input[str]] | None = None
        if args.zone_id is not None:
            option = cert.domain_validation_options.apply(lambda o: o[0])
            record = aws.route53.Record(
                f"{name}-certificate-validation",
                zone_id=args.zone_id,
                name=option.apply(lambda o: o.resource_record_name),
                type=option.apply(lambda o: o.resource_record_type),
                # ACM fills the record's value of every DNS validation option
                records=[option.apply(lambda o: cast(str, o.resource_record_value))],
                ttl=300,
                allow_overwrite=True,
                opts=self._child,
            )
            fqdns = [record.fqdn]
        # Waits until ACM has issued the certificate (a listener refuses one that is pending); without
        # a zone the operator adds the record from the stack output ``certificate_validation``.
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate-issued",
            certificate_arn=cert.arn,
            validation_record_fqdns=fqdns,
            opts=self._child,
        )
        return validation.certificate_arn

    def _target_groups(self, name: str, args: EdgeArgs, protocol: str) -> dict[str, aws.lb.TargetGroup]:
        """One target group per server tier on the app port, checked by ``GET /healthz``."""
        return {
            tier: aws.lb.TargetGroup(
                f"{name}-{tier}-tg",
                vpc_id=args.vpc_id,
                port=APP_PORT,
                protocol=protocol,
                target_type="instance",
                deregistration_delay=args.deregistration_delay_seconds,
                health_check={
                    "enabled": True,
                    "path": HEALTH_CHECK_PATH,
                    "port": "traffic-port",
                    "protocol": "HTTP",
                    "matcher": "200",
                    "interval": HEALTH_CHECK_INTERVAL,
                    "timeout": 5,
                    "healthy_threshold": 2,
                    "unhealthy_threshold": 3,
                },
                tags=self._tags,
                opts=self._child,
            )
            for tier in args.server_tiers
        }

    def _load_balancer(
        self, name: str, args: EdgeArgs, kind: LoadBalancerType, **settings: Any
    ) -> aws.lb.LoadBalancer:
        """Internet-facing in the public subnets, or internal in the private ones (a VPC origin's), behind
        the load balancer security group."""
        short = "alb" if kind == "application" else "nlb"
        if args.internal and not args.private_subnet_ids:
            raise ValueError("an internal load balancer needs the private subnets")
        return aws.lb.LoadBalancer(
            f"{name}-{short}",
            load_balancer_type=kind,
            internal=args.internal,
            subnets=args.private_subnet_ids if args.internal else args.public_subnet_ids,
            security_groups=[args.security_group_id],
            tags=tier_tags(args.tags, args.tier or name, f"{name}-{short}"),
            opts=self._child,
            **settings,
        )

    def _alb(self, name: str, args: EdgeArgs) -> aws.lb.LoadBalancer:
        child, tags = self._child, self._tags
        access_logs = (
            {"bucket": args.access_logs_bucket, "enabled": True, "prefix": "alb"}
            if args.access_logs_bucket is not None
            else None
        )
        alb = self._load_balancer(
            name,
            args,
            "application",
            idle_timeout=args.idle_timeout_seconds,
            drop_invalid_header_fields=True,
            enable_http2=True,
            access_logs=access_logs,
        )
        self.target_groups = self._target_groups(name, args, "HTTP")
        default = args.server_tiers[0]
        forward_default: list[aws.lb.ListenerDefaultActionArgsDict] = [
            {"type": "forward", "target_group_arn": self.target_groups[default].arn}
        ]

        if self.certificate_arn is not None:
            self.http_listener = self._listener(name, alb, 80, "HTTP", [REDIRECT_TO_HTTPS])
            self.https_listener = self._listener(
                name,
                alb,
                443,
                "HTTPS",
                forward_default,
                ssl_policy=SSL_POLICY,
                certificate_arn=self.certificate_arn,
            )
            routing_listener = self.https_listener
            gate: list[aws.lb.ListenerRuleConditionArgsDict] = []
        elif args.internal:
            # No public endpoint: only CloudFront's VPC origin reaches it, no header is needed.
            self.http_listener = self._listener(name, alb, 80, "HTTP", forward_default)
            routing_listener = self.http_listener
            gate = []
        else:
            # No certificate: only CloudFront may call, and only with this stack's secret header.
            self.origin_secret = random.RandomPassword(
                f"{name}-origin-secret", length=48, special=False, opts=child
            ).result
            self.http_listener = self._listener(name, alb, 80, "HTTP", [FORBIDDEN])
            routing_listener = self.http_listener
            gate = [{"http_header": {"http_header_name": ORIGIN_HEADER, "values": [self.origin_secret]}}]
            aws.lb.ListenerRule(
                f"{name}-origin-rule",
                listener_arn=routing_listener.arn,
                priority=ORIGIN_RULE_PRIORITY,
                conditions=gate,
                actions=forward_default,
                tags=tags,
                opts=child,
            )

        if REALTIME_TIER in self.target_groups and default != REALTIME_TIER:
            self.realtime_rule = aws.lb.ListenerRule(
                f"{name}-ws-rule",
                listener_arn=routing_listener.arn,
                priority=WS_RULE_PRIORITY,
                conditions=[{"path_pattern": {"values": list(WEBSOCKET_PATHS)}}, *gate],
                actions=[{"type": "forward", "target_group_arn": self.target_groups[REALTIME_TIER].arn}],
                tags=tags,
                opts=child,
            )
        return alb

    def _listener(
        self,
        name: str,
        lb: aws.lb.LoadBalancer,
        port: int,
        protocol: str,
        actions: list[aws.lb.ListenerDefaultActionArgsDict],
        **settings: Any,
    ) -> aws.lb.Listener:
        suffix = "https" if protocol == "HTTPS" else "http"
        return aws.lb.Listener(
            f"{name}-{suffix}",
            load_balancer_arn=lb.arn,
            port=port,
            protocol=protocol,
            default_actions=actions,
            tags=self._tags,
            opts=self._child,
            **settings,
        )

    def _nlb(self, name: str, args: EdgeArgs) -> aws.lb.LoadBalancer:
        """NLB with a security group (only at creation can an NLB get one), a TCP/TLS listener per tier."""
        child, tags = self._child, self._tags
        https = self.certificate_arn is not None
        if not https and not args.internal:
            # Config refuses this (an NLB cannot check an origin header); never serve plain TCP publicly.
            raise ValueError(
                "an internet-facing network load balancer needs a certificate (domain or certificate_arn)"
            )
        ports = self.ports = nlb_listener_ports(args.server_tiers, https)
        # Cross-zone spreads a tier that runs in fewer AZs than the NLB has nodes (a one-server realtime
        # tier); the traffic that crosses AZs then counts in stars:usage.cross_az_gb.
        nlb = self._load_balancer(name, args, "network", enable_cross_zone_load_balancing=True)
        self.target_groups = self._target_groups(name, args, "TCP")
        # TLS listeners keep the NLB's fixed 350 s idle timeout (the runtime pings every 20 s); TCP ones
        # take the configured idle timeout.
        protocol: dict[str, Any] = (
            {"protocol": "TLS", "ssl_policy": SSL_POLICY, "certificate_arn": self.certificate_arn}
            if https
            else {"protocol": "TCP", "tcp_idle_timeout_seconds": args.idle_timeout_seconds}
        )
        for tier, port in ports.items():
            aws.lb.Listener(
                f"{name}-{tier}-listener",
                load_balancer_arn=nlb.arn,
                port=port,
                default_actions=[{"type": "forward", "target_group_arn": self.target_groups[tier].arn}],
                tags=tags,
                opts=child,
                **protocol,
            )
        return nlb
