"""Load-balancing tier (``edge``): the ALB, one target group per server tier, listeners and path routing.

With separate ``api`` and ``realtime`` tiers, ``/ws`` goes to realtime and the rest to api; a combined ``app``
tier serves both on one port, so its target group is the listener's default and no rule is needed.

WebSockets need a long idle timeout (clients also ping) and a deregistration delay that gives the runtime
time to drain (close 1001, clients resume on another server with their last offset).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.network import APP_PORT
from components.tagging import tier_tags

#: Modern TLS policy (TLS 1.3 and 1.2 only).
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH_CHECK_PATH = "/healthz"
REALTIME_PATHS = ["/ws", "/ws/*"]


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
    #: Server tiers behind the ALB, one target group each: ``api`` and ``realtime``, or ``app``.
    server_tiers: tuple[str, ...] = ("api", "realtime")
    tags: dict[str, str] = field(default_factory=dict)


class Edge(pulumi.ComponentResource):
    """Internet-facing ALB: ``/ws`` and ``/ws/*`` to the realtime tier, everything else to the API tier
    (or everything to the combined app tier)."""

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Edge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = tier_tags(args.tags, name)

        access_logs = (
            {"bucket": args.access_logs_bucket, "enabled": True, "prefix": "alb"}
            if args.access_logs_bucket is not None
            else None
        )
        self.alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.public_subnet_ids,
            security_groups=[args.security_group_id],
            idle_timeout=args.idle_timeout_seconds,
            drop_invalid_header_fields=True,
            enable_http2=True,
            access_logs=access_logs,
            tags=tier_tags(args.tags, name, f"{name}-alb"),
            opts=child,
        )
        self.target_groups = {
            tier: aws.lb.TargetGroup(
                f"{name}-{tier}-tg",
                vpc_id=args.vpc_id,
                port=APP_PORT,
                protocol="HTTP",
                target_type="instance",
                deregistration_delay=args.deregistration_delay_seconds,
                health_check={
                    "enabled": True,
                    "path": HEALTH_CHECK_PATH,
                    "port": "traffic-port",
                    "protocol": "HTTP",
                    "matcher": "200",
                    "interval": 15,
                    "timeout": 5,
                    "healthy_threshold": 2,
                    "unhealthy_threshold": 3,
                },
                tags=tags,
                opts=child,
            )
            for tier in args.server_tiers
        }
        default_tier = "app" if "app" in self.target_groups else "api"
        forward_default = [{"type": "forward", "target_group_arn": self.target_groups[default_tier].arn}]

        if args.certificate_arn:
            self.http_listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.alb.arn,
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
            self.https_listener: aws.lb.Listener | None = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=self.alb.arn,
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
                load_balancer_arn=self.alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward_default,
                tags=tags,
                opts=child,
            )
            self.https_listener = None
            routing_listener = self.http_listener

        self.realtime_rule: aws.lb.ListenerRule | None = None
        if "realtime" in self.target_groups:
            self.realtime_rule = aws.lb.ListenerRule(
                f"{name}-ws-rule",
                listener_arn=routing_listener.arn,
                priority=10,
                conditions=[{"path_pattern": {"values": REALTIME_PATHS}}],
                actions=[{"type": "forward", "target_group_arn": self.target_groups["realtime"].arn}],
                tags=tags,
                opts=child,
            )

        self.dns_name = self.alb.dns_name
        self.register_outputs(
            {
                "alb_arn": self.alb.arn,
                "dns_name": self.alb.dns_name,
                "target_group_arns": {k: tg.arn for k, tg in self.target_groups.items()},
            }
        )
