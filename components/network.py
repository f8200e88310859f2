"""Network tier: VPC, public/private subnets over several AZs, private egress and security groups.

Security groups encode the baseline: only the load balancer is open to the internet, on its listener ports
(80/443; an NLB's realtime listener 8080/8443); the app tiers (api and realtime, or the combined app) accept
traffic only from the load balancer's group; the database and cache accept traffic only from the app tiers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.tagging import tier_tags

#: Port the runtime listens on behind the ALB.
APP_PORT = 8000
POSTGRES_PORT = 5432
REDIS_PORT = 6379

#: Interface endpoints created when ``private_egress`` is ``endpoints`` (what the instances call).
#: AWS-managed prefix list of CloudFront's origin-facing addresses (the only callers of a certificate-less
#: load balancer).
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
INTERFACE_ENDPOINT_SERVICES = ("secretsmanager", "logs", "monitoring", "ssm", "ssmmessages", "ec2messages")


@dataclass
class NetworkArgs:
    """Inputs of :class:`Network` (from ``stars:network``)."""

    cidr: str
    az_count: int
    private_egress: Literal["nat", "endpoints", "none", "public"]
    nat_gateways: Literal["single", "per_az"]
    region: str
    #: Ports the load balancer's group opens to the internet: exactly its listeners' (``edge.public_ports``).
    public_ports: tuple[int, ...] = (80, 443)
    #: No certificate on the load balancer: only CloudFront's origin-facing prefix list may reach it (on
    #: ``public_ports``, which are then no public ports at all).
    cloudfront_only: bool = False
    #: Ports open to CloudFront's origin-facing prefix list alone besides ``public_ports``: an internal /ws
    #: load balancer's listener (``stars:loadBalancer.websocket_origin: vpc_origin``, the same group).
    cloudfront_ports: tuple[int, ...] = ()
    #: The load balancer in front (its group's description says which).
    load_balancer_type: Literal["application", "network"] = "application"
    #: The server tiers that get a security group: the plan's two, or the combined ``app``.
    server_tiers: tuple[str, ...] = ("api", "realtime")
    tags: dict[str, str] = field(default_factory=dict)


def subnet_cidrs(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Public and private subnet CIDRs: the VPC split in 16 equal blocks, public from 0, private from 8."""
    net = ipaddress.IPv4Network(cidr)
    blocks = list(net.subnets(prefixlen_diff=4))
    return [str(b) for b in blocks[:az_count]], [str(b) for b in blocks[8 : 8 + az_count]]


class Network(pulumi.ComponentResource):
    """VPC with one public and one private subnet per AZ, egress per config, and the tier security groups."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Network", name, None, opts)
        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self))
        if len(zones.names) < args.az_count:
            raise ValueError(
                f"{args.region} offers {len(zones.names)} AZs, stars:network.az_count asks {args.az_count}"
            )
        self.azs: list[str] = list(zones.names[: args.az_count])

        self._vpc(name, args)
        self._subnets(name, args)
        self._public_routes(name, args)
        self._private_routes(name, args)
        self.security_groups = self._security_groups(name, args)

        self.nat_gateways: list[aws.ec2.NatGateway] = []
        self.endpoints: list[aws.ec2.VpcEndpoint] = []
        if args.private_egress == "nat":
            self._nat(name, args)
        elif args.private_egress == "endpoints":
            self._endpoints(name, args)

        self.vpc_id = self.vpc.id
        self.public_subnet_ids: list[pulumi.Input[str]] = [s.id for s in self.public_subnets]
        self.private_subnet_ids: list[pulumi.Input[str]] = [s.id for s in self.private_subnets]
        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _vpc(self, name: str, args: NetworkArgs) -> None:
        """The VPC, its default security group closed, and its internet gateway."""
        tags = args.tags
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tier_tags(tags, name, f"{name}-vpc"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        vpc_child = pulumi.ResourceOptions(parent=self.vpc)
        # Adopt the VPC's default security group and strip its rules (it allows all traffic among its
        # members and all egress): nothing can use it by accident.
        self.default_security_group = aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            tags=tier_tags(tags, name, f"{name}-default-closed"),
            opts=vpc_child,
        )
        self.igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=tier_tags(tags, name, f"{name}-igw"), opts=vpc_child
        )

    def _subnets(self, name: str, args: NetworkArgs) -> None:
        """One public and one private subnet per AZ; neither gives instances a public address itself."""
        public_cidrs, private_cidrs = subnet_cidrs(args.cidr, args.az_count)

        def new_subnet(kind: str, i: int, az: str, cidr: str) -> aws.ec2.Subnet:
            return aws.ec2.Subnet(
                f"{name}-{kind}-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={**tier_tags(args.tags, name, f"{name}-{kind}-{az}"), "subnet-type": kind},
                opts=pulumi.ResourceOptions(parent=self.vpc),
            )

        self.public_subnets = [new_subnet("public", i, az, public_cidrs[i]) for i, az in enumerate(self.azs)]
        self.private_subnets = [
            new_subnet("private", i, az, private_cidrs[i]) for i, az in enumerate(self.azs)
        ]

    def _public_routes(self, name: str, args: NetworkArgs) -> None:
        """One route table for the public subnets: the default route to the internet gateway."""
        vpc_child = pulumi.ResourceOptions(parent=self.vpc)
        self.public_route_table = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            tags=tier_tags(args.tags, name, f"{name}-public"),
            opts=vpc_child,
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=self.public_route_table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=self.igw.id,
            opts=vpc_child,
        )
        for i, subnet in enumerate(self.public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{i}",
                subnet_id=subnet.id,
                route_table_id=self.public_route_table.id,
                opts=vpc_child,
            )

    def _private_routes(self, name: str, args: NetworkArgs) -> None:
        """One private route table per AZ, so NAT per AZ keeps traffic (and its cost) inside the AZ."""
        vpc_child = pulumi.ResourceOptions(parent=self.vpc)
        self.private_route_tables: list[aws.ec2.RouteTable] = []
        for i, subnet in enumerate(self.private_subnets):
            rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{i}",
                vpc_id=self.vpc.id,
                tags=tier_tags(args.tags, name, f"{name}-private-{self.azs[i]}"),
                opts=vpc_child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{i}", subnet_id=subnet.id, route_table_id=rt.id, opts=vpc_child
            )
            self.private_route_tables.append(rt)

    def _nat(self, name: str, args: NetworkArgs) -> None:
        """NAT gateway(s) in the public subnets; ``single`` saves money, ``per_az`` survives an AZ outage."""
        count = args.az_count if args.nat_gateways == "per_az" else 1
        opts = pulumi.ResourceOptions(parent=self.vpc, depends_on=[self.igw])
        for i in range(count):
            eip = aws.ec2.Eip(f"{name}-nat-eip-{i}", domain="vpc", tags=tier_tags(args.tags, name), opts=opts)
            self.nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=self.public_subnets[i].id,
                    connectivity_type="public",
                    tags=tier_tags(args.tags, name, f"{name}-nat-{self.azs[i]}"),
                    opts=opts,
                )
            )
        for i, rt in enumerate(self.private_route_tables):
            aws.ec2.Route(
                f"{name}-private-default-{i}",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=self.nat_gateways[i % count].id,
                opts=pulumi.ResourceOptions(parent=self.vpc),
            )

    def _endpoints(self, name: str, args: NetworkArgs) -> None:
        """S3 gateway endpoint (free) and interface endpoints for the AWS APIs the instances call."""
        opts = pulumi.ResourceOptions(parent=self.vpc)
        self.endpoints.append(
            aws.ec2.VpcEndpoint(
                f"{name}-s3",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.s3",
                vpc_endpoint_type="Gateway",
                route_table_ids=[rt.id for rt in self.private_route_tables],
                tags=tier_tags(args.tags, name, f"{name}-s3"),
                opts=opts,
            )
        )
        for tier in args.server_tiers:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{tier}-to-s3",
                security_group_id=self.security_groups[tier].id,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                prefix_list_id=self.endpoints[0].prefix_list_id,
                description=f"{tier} to S3 through the gateway endpoint",
                tags=tier_tags(args.tags, name),
                opts=opts,
            )
        for service in INTERFACE_ENDPOINT_SERVICES:
            self.endpoints.append(
                aws.ec2.VpcEndpoint(
                    f"{name}-{service}",
                    vpc_id=self.vpc.id,
                    service_name=f"com.amazonaws.{args.region}.{service}",
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=[s.id for s in self.private_subnets],
                    security_group_ids=[self.security_groups["endpoints"].id],
                    tags=tier_tags(args.tags, name, f"{name}-{service}"),
                    opts=opts,
                )
            )

    def _security_groups(self, name: str, args: NetworkArgs) -> dict[str, aws.ec2.SecurityGroup]:
        """ALB, app (api and realtime, or app), data (database, cache) and endpoint groups with rules."""
        opts = pulumi.ResourceOptions(parent=self.vpc)
        groups = {
            key: aws.ec2.SecurityGroup(
                f"{name}-{key}-sg",
                vpc_id=self.vpc.id,
                description=text,
                tags=tier_tags(args.tags, name, f"{name}-{key}"),
                opts=opts,
            )
            for key, text in _group_purposes(args).items()
        }
        rules = _Rules(name, args.tags, groups, opts)
        cloudfront = (
            aws.ec2.get_managed_prefix_list_output(
                name=CLOUDFRONT_PREFIX_LIST, opts=pulumi.InvokeOptions(parent=self)
            ).id
            if args.cloudfront_only or args.cloudfront_ports
            else None
        )
        for port in args.public_ports:
            rules.public(port, cloudfront if args.cloudfront_only else None)
        for port in args.cloudfront_ports:
            rules.public(port, cloudfront)
        for tier in args.server_tiers:
            rules.server_tier(tier, args.private_egress)
        return groups


def _group_purposes(args: NetworkArgs) -> dict[str, str]:
    """Each security group of the stack and its description (what it admits)."""
    servers = {
        "api": "API servers: app port from the ALB only",
        "realtime": "Realtime servers: app port from the ALB only",
        "app": "App servers (API and WebSocket): app port from the ALB only",
    }
    purposes = {
        "alb": (
            "ALB: HTTP/HTTPS from the internet"
            if args.load_balancer_type == "application"
            else "NLB: its listener ports from the internet"
        ),
        **{tier: servers[tier] for tier in args.server_tiers},
        "database": "PostgreSQL: from the app servers only",
        "cache": "Redis: from the app servers only",
    }
    if args.private_egress == "endpoints":
        purposes["endpoints"] = "VPC interface endpoints: HTTPS from the app servers only"
    return purposes


@dataclass
class _Rules:
    """Builds the groups' rules: one TCP port each, from or to a CIDR, a peer group or a prefix list."""

    name: str
    tags: dict[str, str]
    groups: dict[str, aws.ec2.SecurityGroup]
    opts: pulumi.ResourceOptions

    def rule(
        self,
        kind: type[aws.vpc.SecurityGroupIngressRule] | type[aws.vpc.SecurityGroupEgressRule],
        name_: str,
        group: str,
        port: int,
        description: str,
        cidr: str | None,
        peer: str | None,
        prefix_list: pulumi.Input[str] | None = None,
    ) -> None:
        kind(
            f"{self.name}-{name_}",
            security_group_id=self.groups[group].id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=cidr,
            referenced_security_group_id=self.groups[peer].id if peer else None,
            prefix_list_id=prefix_list,
            description=description,
            tags=tier_tags(self.tags, self.name),
            opts=self.opts,
        )

    def ingress(
        self, name_: str, group: str, port: int, *, cidr: str | None = None, source: str | None = None
    ) -> None:
        self.rule(aws.vpc.SecurityGroupIngressRule, name_, group, port, f"{name_} to {group}", cidr, source)

    def egress(
        self, name_: str, group: str, port: int, *, cidr: str | None = None, dest: str | None = None
    ) -> None:
        self.rule(aws.vpc.SecurityGroupEgressRule, name_, group, port, f"{group} {name_}", cidr, dest)

    def public(self, port: int, cloudfront: pulumi.Input[str] | None) -> None:
        """The load balancer's listener port: open to the internet, or to CloudFront's prefix list only."""
        label = {80: "http", 443: "https"}.get(port, str(port))
        if cloudfront is None:
            self.ingress(f"alb-{label}-in", "alb", port, cidr="0.0.0.0/0")
        else:
            self.rule(
                aws.vpc.SecurityGroupIngressRule,
                f"alb-{label}-from-cloudfront",
                "alb",
                port,
                f"CloudFront origin-facing to alb on {port}",
                None,
                None,
                cloudfront,
            )

    def server_tier(self, tier: str, private_egress: str) -> None:
        """A server tier's paths: from the load balancer, to the database, the cache and AWS's APIs."""
        self.ingress(f"{tier}-from-alb", tier, APP_PORT, source="alb")
        self.egress(f"alb-to-{tier}", "alb", APP_PORT, dest=tier)
        self.ingress(f"database-from-{tier}", "database", POSTGRES_PORT, source=tier)
        self.ingress(f"cache-from-{tier}", "cache", REDIS_PORT, source=tier)
        self.egress(f"{tier}-to-database", tier, POSTGRES_PORT, dest="database")
        self.egress(f"{tier}-to-cache", tier, REDIS_PORT, dest="cache")
        if private_egress == "endpoints":
            self.ingress(f"endpoints-from-{tier}", "endpoints", 443, source=tier)
            self.egress(f"{tier}-to-endpoints", tier, 443, dest="endpoints")
        if private_egress in ("nat", "public"):
            # AWS APIs, the release artifact and OS packages are HTTPS only (through NAT, or with
            # ``public`` from the servers' own addresses; ingress stays the ALB's alone).
            self.egress(f"{tier}-https-out", tier, 443, cidr="0.0.0.0/0")
