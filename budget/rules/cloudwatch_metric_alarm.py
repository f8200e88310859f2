"""CloudWatch alarm: per alarm metric a month; high-resolution (period < 60 s) alarms cost more.

Metric-math alarms are billed per metric they read; anomaly detection bills three (the metric and its two
bounds). The CloudWatch free tier (10 alarms) is recalled, not sourced, so it is not applied.
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, known, number

TYPES = ("aws:cloudwatch/metricAlarm:MetricAlarm",)


def metric_count(inputs: dict) -> tuple[float, bool]:
    """Billed metrics and whether the alarm is high resolution."""
    queries = known(inputs.get("metricQueries"), "input 'metricQueries'") or []
    if not queries:
        period = number(inputs.get("period") or 60, "period")
        return 1.0, period < 60
    metrics = 0.0
    high = False
    for query in queries:
        # an expression the preview cannot show may be an anomaly band (three billed metrics): no guess
        expression = str(known(query.get("expression"), "a metric query's expression") or "")
        if "ANOMALY_DETECTION_BAND" in expression:
            metrics += 2  # the band's upper and lower bound: with its metric, three billed metrics
        if query.get("metric"):
            metrics += 1
            high = high or number(query["metric"].get("period") or 60, "period") < 60
    return max(metrics, 1.0), high


def price(alarm: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    metrics, high = metric_count(dict(alarm.inputs))
    key, label = (
        ("cloudwatch.alarm.high_resolution", "high resolution")
        if high
        else ("cloudwatch.alarm.standard", "standard")
    )
    return [line(f"Alarm ({label}, {metrics:g} metric(s))", "alarm metric-months", metrics, ctx.price(key))]
