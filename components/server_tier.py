"""A tier of identical servers behind the ALB (used twice, ``api`` and ``realtime``, or once as ``app``).

Each tier gets its own least-privilege role, launch template, auto-scaling group, log group and scaling
policies, so the budget report and CloudWatch can tell the two apart.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.config import ScheduleConfig, ServerTierConfig, SpotConfig
from components.network import APP_PORT
from components.release import ReleaseRef
from components.tagging import asg_tags, purchase_tags, tier_tags
from components.userdata import UserDataSpec, pool_env, render_user_data, resized

SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"
POLICY = "aws:autoscaling/policy:Policy"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
#: ``ServerTierConfig`` fields (``spot.*`` nested) that set only values of the tier's inputs, never which
#: resources it registers or their names: the instance type (with its image and the template's
#: description), the group's sizes and the schedules' (which follow them), the scaling target, the
#: processes and pool in the user data, the purchase tag and the spot mix's numbers (whether there is a
#: mix, ``spot.enabled``, is structure). A planner that plans the tier once may write them into that plan
#: for each value (:func:`value_inputs`; ``budget fit`` does, tests/budget/test_fit_value_only.py holds
#: it against planning each value).
VALUE_ONLY = (
    "instance_type",
    "min_size",
    "desired_capacity",
    "max_size",
    "cpu_target_percent",
    "workers",
    "db_pool_size",
    "commitment",
    "spot.on_demand_base",
    "spot.spot_percentage",
)
#: CloudWatch namespaces the agent and the runtime may write metrics to.
METRIC_NAMESPACES = ["CWAgent", "STARS"]

#: An instance refresh launches replacements before terminating: 100% of the group stays in service and up
#: to 200% may run while it is replaced, so a deploy can double a group's servers (and their database
#: connections, which ``budget.fit.dbpool`` counts at this surge).
REFRESH_MIN_HEALTHY_PERCENT = 100
REFRESH_MAX_HEALTHY_PERCENT = 200


@dataclass
class ServerTierArgs:
    """Inputs of :class:`ServerTier`: the tier's sizes plus where it runs and what it may read."""

    tier: ServerTierConfig
    region: str
    #: The pinned AMI for this tier's architecture (``stars:image``; components/ami.py refreshes it).
    image_id: str
    #: The image family (``stars:image.os``): what the user data prepares before the installer runs.
    image_os: str
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    log_retention_days: int
    #: ``STANDARD`` or ``INFREQUENT_ACCESS`` (``stars:monitoring.log_class``).
    log_group_class: str
    detailed_monitoring: bool
    database_host: pulumi.Input[str]
    database_name: str
    database_secret_arn: pulumi.Input[str]
    redis_host: pulumi.Input[str]
    redis_port: int
    redis_secret_arn: pulumi.Input[str]
    #: The JWT signing key secret; ``None`` makes this tier create it (the API tier owns it).
    signing_key_secret_arn: pulumi.Input[str] | None = None
    #: A public IPv4 on each instance (``private_egress: public``: the servers run in public subnets and
    #: reach the internet themselves; their security group still admits only the load balancer).
    public_ip: bool = False
    #: The private bucket holding the release, and the artifact (content-addressed key and digest); without
    #: an artifact the servers refuse to boot (user data says why).
    release_bucket: pulumi.Input[str] | None = None
    release: ReleaseRef | None = None
    drain_seconds: int = 60
    tags: dict[str, str] = field(default_factory=dict)
    #: Further target groups the instances join: the internal /ws load balancer's for a combined ``app``
    #: tier behind both (``stars:loadBalancer.websocket_origin: vpc_origin``).
    extra_target_group_arns: list[pulumi.Input[str]] = field(default_factory=list)


def _policy(statements: Sequence[object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def _server_statements(
    region: str, secrets: Sequence[str], log_group: str, release: str | None
) -> list[dict[str, Any]]:
    """What a server may do: read its own secrets, the CloudWatch agent and (once built) its release,
    write its own logs, and put metrics in the project's namespaces only."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadOwnSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": sorted(secrets),
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group, f"{log_group}:*"],
        },
        {
            # The CloudWatch agent's package (debian-12), from AWS's public regional bucket.
            "Sid": "ReadCloudWatchAgent",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::amazoncloudwatch-agent-{region}/debian/*",
        },
        {
            "Sid": "PutOwnMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACES}},
        },
    ]
    if release:
        statements.append(
            {"Sid": "ReadRelease", "Effect": "Allow", "Action": "s3:GetObject", "Resource": release}
        )
    return statements


class ServerTier(pulumi.ComponentResource):
    """Launch template + auto-scaling group with target tracking, optional spot mix and off-peak schedule."""

    def __init__(self, name: str, args: ServerTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:ServerTier", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tier = args.tier
        tags = tier_tags(args.tags, name)
        stack = args.tags.get("stack", pulumi.get_stack())

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/stars/{stack}/{name}",
            retention_in_days=args.log_retention_days,
            log_group_class=args.log_group_class,
            tags=tags,
            opts=child,
        )
        signing_key_arn = self._signing_key(name, stack, args, tags, child)
        self.signing_key_secret_arn = pulumi.Output.from_input(signing_key_arn)
        release = args.release if args.release_bucket is not None else None
        self._identity(name, args, tags, signing_key_arn, release, child)
        self.user_data = self._user_data(name, args, signing_key_arn, release)
        instance_tags = tier_tags(args.tags, name, f"stars-{stack}-{name}")
        self.launch_template = self._launch_template(name, args, tags, instance_tags, child)
        self.asg = self._group(name, args, instance_tags)
        self.scaling_policy = aws.autoscaling.Policy(
            f"{name}-cpu-target",
            autoscaling_group_name=self.asg.name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=120,
            target_tracking_configuration={
                "predefined_metric_specification": {"predefined_metric_type": "ASGAverageCPUUtilization"},
                "target_value": float(tier.cpu_target_percent),
            },
            opts=child,
        )
        self.schedules: list[aws.autoscaling.Schedule] = []
        if tier.schedule.enabled:
            self._schedules(name, tier, tier.schedule, child)

        self.asg_name = self.asg.name
        self.register_outputs(
            {
                "asg_name": self.asg.name,
                "launch_template_id": self.launch_template.id,
                "role_arn": self.role.arn,
                "log_group": self.log_group.name,
            }
        )

    def _signing_key(
        self,
        name: str,
        stack: str,
        args: ServerTierArgs,
        tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> pulumi.Input[str]:
        """The JWT signing key's secret ARN: the one given, or (the API tier) a new random key's."""
        if args.signing_key_secret_arn is not None:
            self.signing_key_secret: aws.secretsmanager.Secret | None = None
            return args.signing_key_secret_arn
        key = random.RandomPassword(f"{name}-signing-key-value", length=48, special=False, opts=child)
        self.signing_key_secret = aws.secretsmanager.Secret(
            f"{name}-signing-key",
            name=f"stars/{stack}/jwt-signing-key",
            description="HS256 key the runtime signs and verifies connection tokens with",
            recovery_window_in_days=7,
            tags=tags,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-signing-key-version",
            secret_id=self.signing_key_secret.id,
            secret_string=key.result,  # a plain string, as the runtime's installer reads it
            opts=child,
        )
        return self.signing_key_secret.arn

    def _identity(
        self,
        name: str,
        args: ServerTierArgs,
        tags: dict[str, str],
        signing_key_arn: pulumi.Input[str],
        release: ReleaseRef | None,
        child: pulumi.ResourceOptions,
    ) -> None:
        """The servers' role (least privilege: their own secrets, logs, metrics and release), with SSM's
        managed policy for sessions, and the instance profile that hands it to them."""
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=_policy(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            ),
            description=f"STARS {name} servers",
            tags=tags,
            opts=child,
        )
        release_arn = (
            pulumi.Output.from_input(args.release_bucket).apply(lambda b: f"arn:aws:s3:::{b}/{release.key}")
            if release is not None
            else None
        )
        policy = pulumi.Output.all(
            secrets=pulumi.Output.all(args.database_secret_arn, args.redis_secret_arn, signing_key_arn),
            log_group=self.log_group.arn,
            release=release_arn,
        ).apply(
            lambda v: _policy(_server_statements(args.region, v["secrets"], v["log_group"], v["release"]))
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-policy", role=self.role.id, policy=policy, opts=pulumi.ResourceOptions(parent=self.role)
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm-core",
            role=self.role.name,
            policy_arn=SSM_CORE_POLICY,
            opts=pulumi.ResourceOptions(parent=self.role),
        )
        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-profile", role=self.role.name, tags=tags, opts=child
        )

    def _user_data(
        self, name: str, args: ServerTierArgs, signing_key_arn: pulumi.Input[str], release: ReleaseRef | None
    ) -> pulumi.Output[str]:
        """The boot script: where the secrets, database, cache, logs and release are (no secret values)."""
        release_uri = (  # only a built release is named: without one the installer refuses to start
            pulumi.Output.from_input(args.release_bucket).apply(lambda b: f"s3://{b}/{release.key}")
            if release is not None and release.sha256 is not None
            else None
        )
        return pulumi.Output.all(
            db_host=args.database_host,
            db_secret=args.database_secret_arn,
            redis_host=args.redis_host,
            redis_secret=args.redis_secret_arn,
            key_secret=signing_key_arn,
            log_group=self.log_group.name,
            release=release_uri,
        ).apply(
            lambda v: render_user_data(
                UserDataSpec(
                    role=name,
                    region=args.region,
                    app_port=APP_PORT,
                    workers=args.tier.workers,
                    log_group=v["log_group"],
                    database_host=v["db_host"],
                    database_name=args.database_name,
                    database_secret_arn=v["db_secret"],
                    redis_host=v["redis_host"],
                    redis_port=args.redis_port,
                    redis_secret_arn=v["redis_secret"],
                    signing_key_secret_arn=v["key_secret"],
                    release_uri=v["release"],
                    release_sha256=release.sha256 if release is not None else None,
                    drain_seconds=args.drain_seconds,
                    os=args.image_os,
                    extra_env=pool_env(args.tier.db_pool_size),
                )
            )
        )

    def _launch_template(
        self,
        name: str,
        args: ServerTierArgs,
        tags: dict[str, str],
        instance_tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> aws.ec2.LaunchTemplate:
        """IMDSv2 only, an encrypted gp3 root volume, the role's profile and the user data."""
        tier = args.tier
        # With a public IPv4 the security group moves onto the network interface (EC2 refuses both).
        placement: dict[str, Any] = (
            {
                "network_interfaces": [
                    {
                        "device_index": 0,
                        "associate_public_ip_address": "true",
                        "delete_on_termination": "true",
                        "security_groups": [args.security_group_id],
                    }
                ]
            }
            if args.public_ip
            else {"vpc_security_group_ids": [args.security_group_id]}
        )
        return aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=_description(name, tier),
            image_id=args.image_id,
            instance_type=tier.instance_type,
            iam_instance_profile={"arn": self.instance_profile.arn},
            **placement,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "enabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": tier.root_volume_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            monitoring={"enabled": args.detailed_monitoring},
            user_data=self.user_data.apply(lambda s: base64.b64encode(s.encode()).decode()),
            update_default_version=True,
            tag_specifications=[
                {"resource_type": "instance", "tags": instance_tags},
                {"resource_type": "volume", "tags": instance_tags},
                {"resource_type": "network-interface", "tags": instance_tags},
            ],
            tags=tags,
            opts=child,
        )

    def _group(self, name: str, args: ServerTierArgs, instance_tags: dict[str, str]) -> aws.autoscaling.Group:
        """The auto-scaling group behind the target group: rolling refresh, launch before terminate."""
        tier = args.tier
        lt_spec: aws.autoscaling.GroupLaunchTemplateArgsDict = {
            "id": self.launch_template.id,
            "version": self.launch_template.latest_version.apply(str),
        }
        mixed = self._mixed_instances(tier.spot, tier.instance_type, lt_spec) if tier.spot.enabled else None
        return aws.autoscaling.Group(
            f"{name}-asg",
            min_size=tier.min_size,
            max_size=tier.max_size,
            desired_capacity=tier.desired_capacity,
            vpc_zone_identifiers=args.subnet_ids,
            target_group_arns=[args.target_group_arn, *args.extra_target_group_arns],
            health_check_type="ELB",
            # Boot installs Python packages and runs migrations: give it time before ELB checks count.
            health_check_grace_period=600,
            default_instance_warmup=120,
            launch_template=None if mixed else lt_spec,
            mixed_instances_policy=mixed,
            capacity_rebalance=tier.spot.enabled,
            instance_refresh={
                "strategy": "Rolling",
                # Launch before terminate: a one-server tier keeps serving while it is replaced.
                "preferences": {
                    "min_healthy_percentage": REFRESH_MIN_HEALTHY_PERCENT,
                    "max_healthy_percentage": REFRESH_MAX_HEALTHY_PERCENT,
                    "instance_warmup": "120",
                },
            },
            enabled_metrics=[  # a str enum: sent as the metric names
                aws.autoscaling.Metric.GROUP_MIN_SIZE,
                aws.autoscaling.Metric.GROUP_MAX_SIZE,
                aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
                aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
                aws.autoscaling.Metric.GROUP_TOTAL_INSTANCES,
            ],
            metrics_granularity="1Minute",
            termination_policies=["OldestLaunchTemplate", "Default"],
            # The purchase tag stays on the group: instances above the reserved minimum run on demand.
            tags=asg_tags(instance_tags) + asg_tags(purchase_tags(tier.commitment), propagate=False),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desired_capacity"]),
        )

    @staticmethod
    def _mixed_instances(
        spot: SpotConfig, instance_type: str, lt_spec: aws.autoscaling.GroupLaunchTemplateArgsDict
    ) -> aws.autoscaling.GroupMixedInstancesPolicyArgsDict:
        """On-demand base, then ``spot_percentage`` of the rest on spot (price-capacity-optimized)."""
        return {
            "instances_distribution": {
                "on_demand_base_capacity": spot.on_demand_base,
                "on_demand_percentage_above_base_capacity": _on_demand_percentage(spot),
                "spot_allocation_strategy": "price-capacity-optimized",
            },
            "launch_template": {
                "launch_template_specification": {
                    "launch_template_id": lt_spec["id"],
                    "version": lt_spec["version"],
                },
                "overrides": [{"instance_type": instance_type}],
            },
        }

    def _schedules(
        self, name: str, tier: ServerTierConfig, schedule: ScheduleConfig, child: pulumi.ResourceOptions
    ) -> None:
        """Scale down for the night and back up in the morning (cron in the configured time zone)."""
        for part, (cron, low, high, desired) in _schedule_sizes(tier, schedule).items():
            self.schedules.append(
                aws.autoscaling.Schedule(
                    f"{name}-{part}",
                    scheduled_action_name=f"{name}-{part}",
                    autoscaling_group_name=self.asg.name,
                    recurrence=cron,
                    time_zone=schedule.timezone,
                    min_size=low,
                    max_size=high,
                    desired_capacity=desired,
                    opts=child,
                )
            )


def _description(name: str, tier: ServerTierConfig) -> str:
    return f"STARS {name} servers ({tier.instance_type}, {tier.architecture})"


def _on_demand_percentage(spot: SpotConfig) -> int:
    return 100 - spot.spot_percentage


def _schedule_sizes(tier: ServerTierConfig, schedule: ScheduleConfig) -> dict[str, tuple[str, int, int, int]]:
    """Each scheduled action's cron and the group's minimum, maximum and desired size from then on: the
    off-peak sizes (within the group's maximum) at night, the group's own in the morning."""
    off_min = min(schedule.off_peak_min_size, tier.max_size)
    off_max = max(off_min, min(schedule.off_peak_max_size, tier.max_size))
    return {
        "scale-down": (schedule.scale_down_cron, off_min, off_max, off_min),
        "scale-up": (schedule.scale_up_cron, tier.min_size, tier.max_size, tier.desired_capacity),
    }


def value_inputs(
    tier: ServerTierConfig, image_id: str, resource_type: str, resource_name: str, inputs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The inputs (as planned: camelCase, numbers as floats) of the tier's resource named
    ``resource_name`` when the group's :data:`VALUE_ONLY` values are ``tier``'s (``image_id``: the stack's
    image for its architecture), whatever values it was planned at; None: none of its inputs follows them.
    Every other input is kept: the plan must be of the same structure (``tier`` equal but these values)."""
    name, _, part = resource_name.partition("-")
    out = dict(inputs)
    if resource_type == LAUNCH_TEMPLATE:
        script = base64.b64decode(inputs["userData"]).decode()
        script = resized(script, tier.workers, tier.db_pool_size)
        out.update(
            description=_description(name, tier),
            imageId=image_id,
            instanceType=tier.instance_type,
            userData=base64.b64encode(script.encode()).decode(),
        )
    elif resource_type == GROUP:
        out.update(
            minSize=float(tier.min_size),
            maxSize=float(tier.max_size),
            desiredCapacity=float(tier.desired_capacity),
            # the instance tags propagate; the purchase tag alone does not (ServerTier._group)
            tags=[t for t in inputs["tags"] if t["propagateAtLaunch"]]
            + [
                {"key": t["key"], "value": t["value"], "propagateAtLaunch": False}
                for t in asg_tags(purchase_tags(tier.commitment), propagate=False)
            ],
        )
        mixed = inputs.get("mixedInstancesPolicy")
        if mixed is not None:
            out["mixedInstancesPolicy"] = {
                **mixed,
                "instancesDistribution": {
                    **mixed["instancesDistribution"],
                    "onDemandBaseCapacity": float(tier.spot.on_demand_base),
                    "onDemandPercentageAboveBaseCapacity": float(_on_demand_percentage(tier.spot)),
                },
                "launchTemplate": {
                    **mixed["launchTemplate"],
                    "overrides": [{"instanceType": tier.instance_type}],
                },
            }
    elif resource_type == POLICY:
        target = inputs["targetTrackingConfiguration"]
        out["targetTrackingConfiguration"] = {**target, "targetValue": float(tier.cpu_target_percent)}
    elif resource_type == SCHEDULE:
        _, low, high, desired = _schedule_sizes(tier, tier.schedule)[part]
        out.update(minSize=float(low), maxSize=float(high), desiredCapacity=float(desired))
    else:
        return None
    return out
