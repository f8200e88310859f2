"""Load-balancing tier (``edge``): the load balancer, one target group per server tier, and listeners.

Two kinds, chosen by ``stars:loadBalancer.type``:

- ``application`` (ALB): one web listener (80, or 443 with a certificate and 80 redirecting); the first
  server tier is its default, and ``/ws`` and ``/ws/*`` go to the ``realtime`` tier when there is one.
- ``network`` (NLB): TCP listeners (TLS with a certificate) cannot route by path, so each server tier gets
  its own port: the first tier the web port (80 or 443), the ``realtime`` tier of a split layout 8080 or 8443.
  A layout with one combined tier needs one listener. Target groups and listeners are keyed by tier name.

With separate ``api`` and ``realtime`` tiers, ``/ws`` goes to realtime and the rest to api; a combined ``app``
tier serves both on one port, so its target group is the listener's default and no rule is needed.

WebSockets need a long idle timeout (clients also ping) and a deregistration delay that gives the runtime
time to drain (close 1001, clients resume on another server with their last offset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.network import APP_PORT
from components.tagging import tier_tags

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

LoadBalancerType = Literal["application", "network"]


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
        return ALB_PORTS
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
    access_logs_bucket: pulumi.Input[str] | None = None
    load_balancer_type: LoadBalancerType = "application"
    #: Server tiers behind the load balancer; the first is the default (web) target.
    server_tiers: tuple[str, ...] = SERVER_TIERS
    tags: dict[str, str] = field(default_factory=dict)


class Edge(pulumi.ComponentResource):
    """Internet-facing ALB (path routing) or NLB (a port per tier) in front of the server tiers."""

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Edge", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = tier_tags(args.tags, name)
        #: NLB listener port per server tier (empty behind an ALB, which serves every tier on 80/443).
        self.ports: dict[str, int] = {}
        self.http_listener: aws.lb.Listener | None = None
        self.https_listener: aws.lb.Listener | None = None
        self.realtime_rule: aws.lb.ListenerRule | None = None
        if args.load_balancer_type == "application":
            self.load_balancer = self._alb(name, args)
        else:
            self.load_balancer = self._nlb(name, args)

        self.dns_name = self.load_balancer.dns_name
        self.register_outputs(
            {
                "load_balancer_arn": self.load_balancer.arn,
                "dns_name": self.load_balancer.dns_name,
                "target_group_arns": {k: tg.arn for k, tg in self.target_groups.items()},
            }
        )

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
        self, name: str, args: EdgeArgs, kind: LoadBalancerType, **settings: object
    ) -> aws.lb.LoadBalancer:
        """Internet-facing, in the public subnets, behind the load balancer security group."""
        short = "alb" if kind == "application" else "nlb"
        return aws.lb.LoadBalancer(
            f"{name}-{short}",
            load_balancer_type=kind,
            internal=False,
            subnets=args.public_subnet_ids,
            security_groups=[args.security_group_id],
            tags=tier_tags(args.tags, name, f"{name}-{short}"),
            opts=self._child,
            **settings,  # type: ignore[arg-type]
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
        forward_default = [{"type": "forward", "target_group_arn": self.target_groups[default].arn}]

        if args.certificate_arn:
            self.http_listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    {
                        "type": "redirect",
                        "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
                    }
                ],
                tags=tags,
                opts=child,
            )
            self.https_listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=SSL_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=forward_default,
                tags=tags,
                opts=child,
            )
            routing_listener = self.https_listener
        else:
            self.http_listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward_default,
                tags=tags,
                opts=child,
            )
            routing_listener = self.http_listener

        if REALTIME_TIER in self.target_groups and default != REALTIME_TIER:
            self.realtime_rule = aws.lb.ListenerRule(
                f"{name}-ws-rule",
                listener_arn=routing_listener.arn,
                priority=10,
                conditions=[{"path_pattern": {"values": list(WEBSOCKET_PATHS)}}],
                actions=[{"type": "forward", "target_group_arn": self.target_groups[REALTIME_TIER].arn}],
                tags=tags,
                opts=child,
            )
        return alb

    def _nlb(self, name: str, args: EdgeArgs) -> aws.lb.LoadBalancer:
        """NLB with a security group (only at creation can an NLB get one), a TCP/TLS listener per tier."""
        child, tags = self._child, self._tags
        https = bool(args.certificate_arn)
        ports = self.ports = nlb_listener_ports(args.server_tiers, https)
        # Cross-zone spreads a tier that runs in fewer AZs than the NLB has nodes (a one-server realtime
        # tier); the traffic that crosses AZs then counts in stars:usage.cross_az_gb.
        nlb = self._load_balancer(name, args, "network", enable_cross_zone_load_balancing=True)
        self.target_groups = self._target_groups(name, args, "TCP")
        # TLS listeners keep the NLB's fixed 350 s idle timeout (the runtime pings every 20 s); TCP ones
        # take the configured idle timeout.
        protocol: dict[str, object] = (
            {"protocol": "TLS", "ssl_policy": SSL_POLICY, "certificate_arn": args.certificate_arn}
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
                **protocol,  # type: ignore[arg-type]
            )
        return nlb
