"""The CloudWatch dashboard of a stack: traffic, latency, errors, capacity, database, cache and CDN."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from components.monitoring.args import MonitoringArgs

Widget = dict[str, object]
IN_SERVICE = ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName"]
#: ``widget(title, metrics, x, y, stat="Average", where=None)`` with the stack's region bound.
WidgetMaker = Callable[..., Widget]


def metric_widget(
    region: str,
    title: str,
    metrics: list[list[object]],
    x: int,
    y: int,
    stat: str = "Average",
    where: str | None = None,
) -> Widget:
    """One 12x6 metric graph at (x, y), in the stack's region unless ``where`` says otherwise."""
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


def dashboard_body(args: MonitoringArgs) -> pulumi.Output[str]:
    """Traffic, latency, errors, capacity, database, cache and CDN on one page."""
    return pulumi.Output.all(
        alb=args.alb_arn_suffix, asgs=dict(args.asg_names), db=args.database_id, cdn=args.distribution_id
    ).apply(lambda values: build(args, values))


def build(args: MonitoringArgs, v: Mapping[str, Any]) -> str:
    """The dashboard's JSON once the load balancer, groups, database and distribution ids are known."""
    widget = functools.partial(metric_widget, args.region)
    alb = v["alb"]
    traffic = _nlb_widgets(widget, alb) if args.load_balancer_type == "network" else _alb_widgets(widget, alb)
    widgets = [*traffic, *_capacity_widgets(widget, v["asgs"], v["db"], args.cache_member_ids)]
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


def _nlb_widgets(widget: WidgetMaker, nlb_id: object) -> list[Widget]:
    """An NLB sees TCP flows, not HTTP requests: no request count, response time or status codes."""
    nlb = ["AWS/NetworkELB"]
    return [
        widget("New flows", [[*nlb, "NewFlowCount", "LoadBalancer", nlb_id]], 0, 0, "Sum"),
        widget("Processed bytes", [[*nlb, "ProcessedBytes", "LoadBalancer", nlb_id]], 12, 0, "Sum"),
        widget(
            "TCP resets",
            [
                [*nlb, "TCP_ELB_Reset_Count", "LoadBalancer", nlb_id],
                [*nlb, "TCP_Target_Reset_Count", "LoadBalancer", nlb_id],
            ],
            0,
            6,
            "Sum",
        ),
        widget("Active flows", [[*nlb, "ActiveFlowCount", "LoadBalancer", nlb_id]], 12, 6),
    ]


def _alb_widgets(widget: WidgetMaker, alb: object) -> list[Widget]:
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


def _capacity_widgets(
    widget: WidgetMaker, asgs: Mapping[str, str], db: object, cache_nodes: list[str]
) -> list[Widget]:
    """Server CPU and in-service counts per group, the database's CPU and connections, cache memory."""
    return [
        widget(
            "Server CPU",
            [["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", n] for n in asgs.values()],
            0,
            12,
        ),
        widget(
            "In service",
            [[*IN_SERVICE, n] for n in asgs.values()],
            12,
            12,
        ),
        widget(
            "Database",
            [
                ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", db],
                ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", db],
            ],
            0,
            18,
        ),
        widget(
            "Cache",
            [["AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "CacheClusterId", c] for c in cache_nodes],
            12,
            18,
        ),
    ]
