"""VPC endpoint: gateway endpoints (S3, DynamoDB) are free; interface endpoints bill per AZ-hour.

Interface endpoint data processing has no usage assumption in the stack config, so only the hours are priced
(the line says so).
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError, known

TYPES = ("aws:ec2/vpcEndpoint:VpcEndpoint",)


def price(endpoint: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    kind = known(endpoint.inputs.get("vpcEndpointType"), "input 'vpcEndpointType'") or "Gateway"
    if kind == "Gateway":
        return []
    if kind != "Interface":
        raise RuleError(f"vpcEndpointType '{kind}' has no rule")
    subnets = known(endpoint.inputs.get("subnetIds"), "input 'subnetIds'") or []
    if not isinstance(subnets, list) or not subnets:
        raise RuleError("interface endpoint without subnetIds: its AZ count is unknown")
    return [
        line(
            f"Interface endpoint ({len(subnets)} AZ)",
            "AZ-hours",
            len(subnets) * ctx.hours,
            ctx.price("vpc.interface_endpoint.hour"),
            note="data processed not priced (no usage assumption)",
        )
    ]
