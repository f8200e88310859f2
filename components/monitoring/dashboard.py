"""The CloudWatch dashboard of a stack: traffic, latency, errors, capacity, database, cache and CDN."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi

from components.monitoring.args import MonitoringArgs


def dashboard_body(args: MonitoringArgs) -> pulumi.Output[str]:
    """Traffic, latency, errors, capacity, database, cache and CDN on one page."""

    def build(v: dict[str, object]) -> str:
        alb = v["alb"]
        region = args.region

        def widget(
            title: str,
            metrics: list[list[object]],
            x: int,
            y: int,
            stat: str = "Average",
            where: str | None = None,
        ) -> dict[str, object]:
            return {
                "type": "metric",
                "x": x,
                "y": y,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": where or region,
                    "stat": stat,
                    "period": 60,
                    "metrics": metrics,
                },
            }

        asgs: dict = v["asgs"]  # type: ignore[assignment]
        if args.load_balancer_type == "network":
            # An NLB sees TCP flows, not HTTP requests: no request count, response time or status codes.
            nlb = ["AWS/NetworkELB"]
            traffic = [
                widget("New flows", [[*nlb, "NewFlowCount", "LoadBalancer", alb]], 0, 0, "Sum"),
                widget("Processed bytes", [[*nlb, "ProcessedBytes", "LoadBalancer", alb]], 12, 0, "Sum"),
                widget(
                    "TCP resets",
                    [
                        [*nlb, "TCP_ELB_Reset_Count", "LoadBalancer", alb],
                        [*nlb, "TCP_Target_Reset_Count", "LoadBalancer", alb],
                    ],
                    0,
                    6,
                    "Sum",
                ),
                widget("Active flows", [[*nlb, "ActiveFlowCount", "LoadBalancer", alb]], 12, 6),
            ]
        else:
            traffic = _alb_widgets(widget, alb)
        widgets = [
            *traffic,
            widget(
                "Server CPU",
                [["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", n] for n in asgs.values()],
                0,
                12,
            ),
            widget(
                "In service",
                [
                    ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", n]
                    for n in asgs.values()
                ],
                12,
                12,
            ),
            widget(
                "Database",
                [
                    ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", v["db"]],
                    ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", v["db"]],
                ],
                0,
                18,
            ),
            widget(
                "Cache",
                [
                    ["AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "CacheClusterId", c]
                    for c in args.cache_member_ids
                ],
                12,
                18,
            ),
        ]
        if v.get("cdn"):
            # CloudFront publishes its metrics in us-east-1 only, with Region=Global.
            cdn = ["DistributionId", v["cdn"], "Region", "Global"]
            widgets.append(
                widget(
                    "CDN requests and 5xx rate",
                    [["AWS/CloudFront", "Requests", *cdn], ["AWS/CloudFront", "5xxErrorRate", *cdn]],
                    0,
                    24,
                    "Sum",
                    where="us-east-1",
                )
            )
        return json.dumps({"widgets": widgets}, sort_keys=True)

    return pulumi.Output.all(
        alb=args.alb_arn_suffix, asgs=dict(args.asg_names), db=args.database_id, cdn=args.distribution_id
    ).apply(build)


def _alb_widgets(widget: Callable[..., dict[str, object]], alb: object) -> list[dict[str, object]]:
    """Requests, p95 response time, 5xx and active connections at the ALB."""
    return [
        widget("Requests", [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", alb]], 0, 0, "Sum"),
        widget(
            "Target response time p95",
            [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb, {"stat": "p95"}]],
            12,
            0,
        ),
        widget(
            "5xx",
            [
                ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", alb],
            ],
            0,
            6,
            "Sum",
        ),
        widget(
            "Active connections",
            [["AWS/ApplicationELB", "ActiveConnectionCount", "LoadBalancer", alb]],
            12,
            6,
            "Sum",
        ),
    ]
