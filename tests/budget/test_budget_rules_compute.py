"""Each rule against figures computed by hand from the sourced catalog prices (arithmetic in the comments)."""

from __future__ import annotations

import pytest

from budget.model import PlannedResource
from budget.rules import PricingOptions
from budget.rules.base import SECRET, UNKNOWN
from tests.budget.budget_helpers import line_named, price, res, stack_cfg, unpriced

LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
RDS = "aws:rds/instance:Instance"
ALB = "aws:lb/loadBalancer:LoadBalancer"


def _template(itype: str = "t3.medium", monitoring: bool = False, **extra: object) -> PlannedResource:
    inputs = {
        "instanceType": itype,
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 20, "volumeType": "gp3"}}],
        "monitoring": {"enabled": monitoring},
        **extra,
    }
    return res(LT, "api-lt", inputs, id_="lt-123")


def _group(low: int, desired: int, high: int, **extra: object) -> PlannedResource:
    inputs = {"minSize": low, "desiredCapacity": desired, "maxSize": high, "launchTemplate": {"id": "lt-123"}}
    inputs.update(extra)
    return res(ASG, "api-asg", inputs, id_="api-asg-1")


def test_asg_instance_hours_at_min_desired_max_and_root_volumes(catalog):
    cfg = stack_cfg(region="us-east-1")
    priced = price(_group(2, 3, 4), cfg, catalog, [_template()])
    hours = line_named(priced, "Instance usage (Linux, on-demand, t3.medium)")
    # 2 / 3 / 4 instances x 730 h = 1,460 / 2,190 / 2,920 h; x 0.0416 $/h (us-east-1 t3.medium, CONFIRMED)
    assert (hours.quantity.min, hours.quantity.desired, hours.quantity.max) == (1460, 2190, 2920)
    assert hours.monthly("min") == pytest.approx(60.736)  # 1,460 x 0.0416
    assert hours.monthly("max") == pytest.approx(121.472)  # 2,920 x 0.0416
    assert not hours.usage_based and not hours.estimated
    root = line_named(priced, "Root volume (gp3")
    assert root.monthly("max") == pytest.approx(6.40)  # 4 instances x 20 GB x 0.08 $/GB-month
    assert root.monthly("min") == pytest.approx(3.20)  # 2 x 20 x 0.08


def test_asg_scheduled_off_peak_scale_down(catalog):
    """Phase 3's API group: 4-8 servers, scaled to 1-4 from 23:00 to 06:00 (7 h a day)."""
    cfg = stack_cfg("phase3")  # af-south-1
    group = _group(4, 4, 8)
    down = res(
        SCHEDULE,
        "api-scale-down",
        {
            "autoscalingGroupName": "api-asg-1",
            "recurrence": "0 23 * * *",
            "minSize": 1,
            "maxSize": 4,
            "desiredCapacity": 1,
        },
    )
    up = res(
        SCHEDULE,
        "api-scale-up",
        {
            "autoscalingGroupName": "api-asg-1",
            "recurrence": "0 6 * * *",
            "minSize": 4,
            "maxSize": 8,
            "desiredCapacity": 4,
        },
    )
    priced = price(group, cfg, catalog, [_template(), down, up])
    hours = line_named(priced, "Instance usage")
    # max: 8 x 730 x 17/24 + 4 x 730 x 7/24 = 4,136.667 + 851.667 = 4,988.333 h
    assert hours.quantity.max == pytest.approx(4988.3333, abs=1e-3)
    assert hours.monthly("max") == pytest.approx(270.3677, abs=1e-3)  # 4,988.333 x 0.0542 (af-south-1)
    # min: 4 x 730 x 17/24 + 1 x 730 x 7/24 = 2,068.333 + 212.917 = 2,281.25 h x 0.0542 = 123.64375
    assert hours.quantity.min == pytest.approx(2281.25)
    assert hours.monthly("min") == pytest.approx(123.64375)


def test_asg_spot_share_from_mixed_instances_policy(catalog):
    cfg = stack_cfg()  # af-south-1
    mixed = {
        "instancesDistribution": {"onDemandBaseCapacity": 1, "onDemandPercentageAboveBaseCapacity": 25},
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-123"}},
    }
    group = res(
        ASG, "api-asg", {"minSize": 1, "desiredCapacity": 1, "maxSize": 5, "mixedInstancesPolicy": mixed}
    )
    priced = price(group, cfg, catalog, [_template()])
    on_demand = line_named(priced, "Instance usage (Linux, on-demand")
    spot = line_named(priced, "Instance usage (Linux, spot")
    # at max 5: on demand = base 1 + 25% of the other 4 = 2 -> 2 x 730 = 1,460 h x 0.0542 = 79.132
    assert on_demand.monthly("max") == pytest.approx(79.132)
    # spot 3 x 730 = 2,190 h x 0.0542 x (1 - 0.73, t3.medium's own af-south-1 figure)
    # = 2,190 x 0.014634 = 32.04846
    assert spot.monthly("max") == pytest.approx(32.04846)
    assert spot.estimated  # a spot price is a market price
    assert spot.quantity.min == 0  # at min size (1) the base is on demand


def test_asg_reserved_baseline_in_the_reserved_what_if(catalog):
    cfg = stack_cfg(region="us-east-1")
    priced = price(_group(2, 2, 4), cfg, catalog, [_template()], options=PricingOptions(reserved=True))
    reserved = line_named(priced, "Instance usage (Linux, reserved")
    on_demand = line_named(priced, "Instance usage (Linux, on-demand")
    # baseline 2 x 730 = 1,460 h x 0.0416 x (1 - 0.373) = 1,460 x 0.0260832 = 38.081472
    assert reserved.monthly("max") == pytest.approx(38.081472)
    # the rest at max: 4 x 730 - 1,460 = 1,460 h on demand x 0.0416 = 60.736; none at min
    assert on_demand.monthly("max") == pytest.approx(60.736)
    assert on_demand.monthly("min") == 0


def test_asg_detailed_monitoring_and_public_ips(catalog):
    cfg = stack_cfg()  # af-south-1
    template = _template(monitoring=True, networkInterfaces=[{"associatePublicIpAddress": "true"}])
    priced = price(_group(2, 2, 2), cfg, catalog, [template])
    # 2 instances x 7 metrics x 0.39 $ (af-south-1 ESTIMATE = 0.30 x 1.30) = 5.46
    assert line_named(priced, "Detailed monitoring").monthly() == pytest.approx(5.46)
    # 2 x 730 h x 0.005 $/IP-hour = 7.30
    assert line_named(priced, "Public IPv4 address per instance").monthly() == pytest.approx(7.30)


def test_asg_resolves_template_through_property_dependencies(catalog):
    """In a preview the template's id is unknown; propertyDependencies ties the group to it."""
    cfg = stack_cfg(region="us-east-1")
    template = res(LT, "api-lt", _template().inputs, id_="")
    group = res(
        ASG,
        "api-asg",
        {"minSize": 1, "maxSize": 1, "launchTemplate": {"id": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}},
        deps={"launchTemplate": [template.urn]},
    )
    priced = price(group, cfg, catalog, [template])
    assert line_named(priced, "Instance usage").monthly() == pytest.approx(30.368)  # 730 x 0.0416


def test_asg_unknown_instance_type_is_unpriced(catalog):
    cfg = stack_cfg()
    result = unpriced(_group(1, 1, 1), cfg, catalog, [_template("m5.large")])
    assert "ec2.instance.m5.large" in result.reason and "af-south-1" in result.reason


def test_asg_missing_template_is_unpriced(catalog):
    result = unpriced(_group(1, 1, 1), stack_cfg(), catalog)
    assert "launch template" in result.reason


def test_alb_hours_lcu_public_ips_and_egress(catalog):
    # af-south-1, 100,000 active connections, 6,000 GB egress
    cfg = stack_cfg(
        "phase3",
        alb_active_connections=100_000,
        alb_new_connections_per_second=50,
        alb_processed_gb_per_hour=8.2,
        alb_rule_evaluations_per_second=1_000,
        internet_egress_gb=6_000,
    )
    alb = res(ALB, "edge-alb", {"loadBalancerType": "application", "internal": False, "subnets": ["a", "b"]})
    priced = price(alb, cfg, catalog)
    assert line_named(priced, "Application load balancer").monthly() == pytest.approx(21.17)  # 730 x 0.029
    lcu = line_named(priced, "Load balancer capacity units")
    # max(50/25 = 2, 100,000/3,000 = 33.33, 8.2/1 = 8.2, 1,000/1,000 = 1) = 33.333 LCU
    # 33.333 x 730 = 24,333.33 LCU-h x 0.0102 = 248.20
    assert lcu.monthly() == pytest.approx(248.20, abs=0.005)
    assert "active connections" in lcu.name and lcu.usage_based
    assert line_named(priced, "Public IPv4 addresses").monthly() == pytest.approx(7.30)  # 2 x 730 x 0.005
    # 6,000 GB: first 100 GB free (RECALLED), then 5,900 x 0.154 = 908.60
    assert line_named(priced, "Data transfer out to internet (first 10 TB)").monthly() == pytest.approx(
        908.60
    )
    free = line_named(priced, "Data transfer out to internet (free allowance)")
    assert free.monthly() == 0 and free.estimated and "RECALLED" in free.source
    assert priced.monthly() == pytest.approx(1185.27)  # 21.17 + 248.20 + 7.30 + 908.60


def test_internet_egress_volume_tiers(catalog):
    cfg = stack_cfg("phase3", internet_egress_gb=60_000)
    alb = res(ALB, "edge-alb", {"internal": True})
    priced = price(alb, cfg, catalog)
    egress = sum(item.monthly() for item in priced.lines if item.name.startswith("Data transfer"))
    # 100 free; 10,240 x 0.154 = 1,576.96; 40,960 x 0.147 = 6,021.12;
    # 60,000 - 100 - 10,240 - 40,960 = 8,700 x 0.126 = 1,096.20; total 8,694.28
    assert egress == pytest.approx(8694.28)


def test_rds_multi_az_primary_backup_secret_and_cross_az(catalog):
    cfg = stack_cfg("phase3")  # backup usage 750 GB, cross-AZ 2,000 GB
    db = res(
        RDS,
        "database-primary",
        {
            "engine": "postgres",
            "instanceClass": "db.t3.medium",
            "multiAz": True,
            "allocatedStorage": 500,
            "storageType": "gp3",
            "manageMasterUserPassword": True,
            "identifier": "stars-db",
        },
        id_="stars-db",
    )
    priced = price(db, cfg, catalog)
    assert line_named(priced, "Database instance").monthly() == pytest.approx(136.656)  # 730 x 0.1872
    assert line_named(priced, "Storage (gp3, Multi-AZ)").monthly() == pytest.approx(149.5)  # 500 x 0.299
    backup = line_named(priced, "Backup storage")
    assert backup.quantity.max == 250  # 750 GB of backups - 500 GB free (= provisioned storage)
    assert backup.monthly() == pytest.approx(30.875)  # 250 x 0.1235
    assert line_named(priced, "Master password secret").monthly() == pytest.approx(0.52)
    # 2,000 GB each direction x 2 x 0.01 = 40.00
    assert line_named(priced, "Cross-AZ data transfer").monthly() == pytest.approx(40.0)


def test_rds_us_east_single_az_matches_infracost(catalog):
    cfg = stack_cfg(region="us-east-1", rds_backup_storage_gb=0)
    db = res(
        RDS,
        "db",
        {"engine": "postgres", "instanceClass": "db.t3.large", "allocatedStorage": 400, "storageType": "gp3"},
    )
    priced = price(db, cfg, catalog)
    assert line_named(priced, "Database instance").monthly() == pytest.approx(105.85)  # 730 x 0.145
    assert line_named(priced, "Storage").monthly() == pytest.approx(46.00)  # 400 x 0.115


def _primary(klass: str, storage: int, **extra: object) -> PlannedResource:
    """A primary PostgreSQL instance named as the program names it (``stars-db``)."""
    inputs = {
        "engine": "postgres",
        "instanceClass": klass,
        "allocatedStorage": storage,
        "identifier": "stars-db",
    }
    return res(RDS, "database-primary", {**inputs, **extra}, id_="stars-db")


def test_rds_read_replica_priced_as_its_own_instance(catalog):
    cfg = stack_cfg("phase2")  # af-south-1
    primary = _primary("db.t3.medium", 250)
    replica = res(
        RDS,
        "database-replica",
        {"instanceClass": "db.t3.medium", "replicateSourceDb": "stars-db", "storageType": "gp3"},
    )
    priced = price(replica, cfg, catalog, [primary])
    assert line_named(priced, "Database instance (read replica").monthly() == pytest.approx(
        68.328
    )  # 730 x 0.0936
    assert line_named(priced, "Storage (gp3, Single-AZ)").monthly() == pytest.approx(37.375)  # 250 x 0.1495
    assert not any(item.name.startswith("Backup") for item in priced.lines)


def test_a_gp3_replica_with_iops_takes_its_size_from_the_source(catalog):
    """Regression: a replica with iops and no allocatedStorage of its own was refused ("not a number:
    None") while the same replica without iops was priced at its source's size."""
    cfg = stack_cfg("phase2")
    primary = _primary("db.t3.medium", 250)
    inputs = {"instanceClass": "db.t3.medium", "replicateSourceDb": "stars-db", "storageType": "gp3"}
    replica = price(res(RDS, "database-replica", {**inputs, "iops": 3000}), cfg, catalog, [primary])
    assert line_named(replica, "Storage (gp3, Single-AZ)").monthly() == pytest.approx(37.375)  # 250 x 0.1495
    over = res(RDS, "database-replica", {**inputs, "iops": 4000})  # gp3 includes 3,000 below 400 GB
    assert "gp3 iops 4000 above the 3000 included at 250 GB" in unpriced(over, cfg, catalog, [primary]).reason


def test_rds_reserved_what_if(catalog):
    cfg = stack_cfg(region="us-east-1")
    db = res(RDS, "db", {"engine": "postgres", "instanceClass": "db.t3.large", "allocatedStorage": 20})
    priced = price(db, cfg, catalog, options=PricingOptions(reserved=True))
    # 730 x 0.145 x (1 - 0.296) = 105.85 x 0.704 = 74.5184
    assert line_named(priced, "Database instance").monthly() == pytest.approx(74.5184)


def test_elasticache_nodes_redis_valkey_and_reserved(catalog):
    group = "aws:elasticache/replicationGroup:ReplicationGroup"
    redis = res(
        group, "cache-redis", {"nodeType": "cache.t3.small", "numCacheClusters": 2, "engine": "redis"}
    )
    # 2 nodes x 730 h x 0.0442 (af-south-1 ESTIMATE = 0.034 x 1.30) = 64.532
    assert price(redis, stack_cfg(), catalog).monthly() == pytest.approx(64.532)
    us = stack_cfg(region="us-east-1")
    valkey = res(group, "cache-valkey", {"nodeType": "cache.t4g.small", "engine": "valkey"})
    assert price(valkey, us, catalog).monthly() == pytest.approx(18.688)  # 730 x 0.032 x 0.8
    # 2 x 730 x 0.034 x (1 - 0.317) = 1,460 x 0.023222 = 33.90412
    reserved = price(redis, us, catalog, options=PricingOptions(reserved=True))
    assert reserved.monthly() == pytest.approx(33.90412)


def test_s3_intelligent_tiering_storage_and_requests(catalog):
    cfg = stack_cfg("phase3", s3_get_requests=24_000_000)
    priced = price(res("aws:s3/bucket:Bucket", "cdn-bucket"), cfg, catalog)
    assert line_named(priced, "Storage (Intelligent-Tiering").monthly() == pytest.approx(
        27.40
    )  # 1,000 GB x 0.0274
    assert line_named(priced, "Intelligent-Tiering monitoring").monthly() == pytest.approx(
        3.00
    )  # 1,000 x 0.003
    assert line_named(priced, "PUT").monthly() == pytest.approx(24.00)  # 4,000,000 / 1,000 x 0.006
    assert line_named(priced, "GET").monthly() == pytest.approx(11.52)  # 24,000,000 / 1,000 x 0.00048
    assert all(item.usage_based for item in priced.lines)


def test_cloudfront_price_class_100_bills_african_viewers_at_europe_rates(catalog):
    # 2,400 GB, 24M requests, viewers in south_africa_kenya_nigeria_middle_east
    cfg = stack_cfg("phase1", cloudfront_egress_gb=2_400, cloudfront_requests=24_000_000)
    dist = res("aws:cloudfront/distribution:Distribution", "cdn", {"priceClass": "PriceClass_100"})
    priced = price(dist, cfg, catalog)
    transfer = line_named(priced, "Data transfer out to viewers (europe) (first 10 TB)")
    assert transfer.monthly() == pytest.approx(116.96)  # (2,400 - 1,024 free) = 1,376 GB x 0.085
    assert "excludes" in transfer.source
    requests = line_named(priced, "HTTPS requests (europe)")
    assert requests.monthly() == pytest.approx(16.80)  # (24M - 10M free) / 10,000 x 0.012


def test_cloudfront_price_class_200_africa_tiers(catalog):
    cfg = stack_cfg("phase3", cloudfront_egress_gb=24_000, cloudfront_requests=240_000_000)
    dist = res("aws:cloudfront/distribution:Distribution", "cdn", {"priceClass": "PriceClass_200"})
    priced = price(dist, cfg, catalog)
    # 1,024 free; 10,240 x 0.110 = 1,126.40; 24,000 - 1,024 - 10,240 = 12,736 x 0.105 = 1,337.28;
    # requests (240M - 10M) / 10,000 = 23,000 x 0.012 = 276.00; total 2,739.68
    assert priced.monthly() == pytest.approx(2739.68)


def test_nat_gateways_hours_and_processed_data(catalog):
    cfg = stack_cfg("phase3")  # 300 GB through NAT, two gateways
    nats = [res("aws:ec2/natGateway:NatGateway", f"nat-{i}") for i in range(2)]
    priced = price(nats[0], cfg, catalog, nats[1:])
    # 730 x 0.06 = 43.80 + 300 / 2 = 150 GB x 0.06 = 9.00 -> 52.80
    assert priced.monthly() == pytest.approx(52.80)


def test_small_resources(catalog):
    af, us = stack_cfg("phase3"), stack_cfg("phase3", region="us-east-1")
    assert price(res("aws:ec2/eip:Eip", "eip"), af, catalog).monthly() == pytest.approx(3.65)  # 730 x 0.005
    alarm = "aws:cloudwatch/metricAlarm:MetricAlarm"
    assert price(res(alarm, "a", {"period": 60}), us, catalog).monthly() == pytest.approx(0.10)
    assert price(res(alarm, "a", {"period": 10}), us, catalog).monthly() == pytest.approx(
        0.30
    )  # high resolution
    anomaly = {
        "metricQueries": [
            {"id": "m1", "metric": {"period": 60}},
            {"id": "b", "expression": "ANOMALY_DETECTION_BAND(m1)"},
        ]
    }
    assert price(res(alarm, "a", anomaly), us, catalog).monthly() == pytest.approx(0.30)  # 3 metrics x 0.10
    assert price(res("aws:cloudwatch/dashboard:Dashboard", "d"), af, catalog).monthly() == pytest.approx(3.90)
    logs = [res("aws:cloudwatch/logGroup:LogGroup", f"logs-{i}") for i in range(2)]
    # 120 GB / 2 = 60 x 0.65 = 39.00 + 60 GB stored / 2 = 30 x 0.039 = 1.17 -> 40.17
    assert price(logs[0], af, catalog, logs[1:]).monthly() == pytest.approx(40.17)
    # 0.40 + 20,000 / 10,000 x 0.05 = 0.50
    assert price(res("aws:secretsmanager/secret:Secret", "s"), us, catalog).monthly() == pytest.approx(0.50)
    sns = price(res("aws:sns/topic:Topic", "t"), af, catalog)
    assert sns.monthly() == pytest.approx(0.13) and sns.lines[0].estimated  # 5,000 / 100,000 x 2.60
    budget = price(res("aws:budgets/budget:Budget", "b"), af, catalog)
    assert budget.monthly() == 0 and budget.lines and not budget.lines[0].estimated  # sourced $0
    assert price(res("aws:kms/key:Key", "k"), af, catalog).monthly() == pytest.approx(1.30)
    endpoint = "aws:ec2/vpcEndpoint:VpcEndpoint"
    interface = res(endpoint, "e", {"vpcEndpointType": "Interface", "subnetIds": ["a", "b"]})
    assert price(interface, us, catalog).monthly() == pytest.approx(14.60)  # 2 AZ x 730 x 0.01
    assert price(res(endpoint, "g", {"vpcEndpointType": "Gateway"}), us, catalog).monthly() == 0


def test_alb_with_unknown_subnet_list_is_unpriced(catalog):
    """A preview may show the whole list as unknown: its address count is then unknown, not 36."""
    alb = res(ALB, "edge-alb", {"subnets": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"})
    assert "subnets" in unpriced(alb, stack_cfg(), catalog).reason


def _policy(target: float) -> PlannedResource:
    tracking = {
        "predefinedMetricSpecification": {"predefinedMetricType": "ASGAverageCPUUtilization"},
        "targetValue": target,
    }
    return res(
        "aws:autoscaling/policy:Policy",
        "api-cpu-target",
        {
            "autoscalingGroupName": "api-asg-1",
            "policyType": "TargetTrackingScaling",
            "targetTrackingConfiguration": tracking,
        },
    )


def test_asg_surplus_cpu_credits_at_the_cpu_target(catalog):
    cfg = stack_cfg(region="us-east-1")
    priced = price(_group(2, 2, 4), cfg, catalog, [_template(), _policy(60)])
    credits = line_named(priced, "Surplus CPU credits")
    # max: 2,920 instance-h x 2 vCPU x (60% - 20% baseline) = 2,336 vCPU-h x 0.05 $ = 116.80
    assert credits.monthly("max") == pytest.approx(116.80)
    # min: 1,460 x 2 x 0.40 = 1,168 vCPU-h x 0.05 = 58.40
    assert credits.monthly("min") == pytest.approx(58.40)
    assert credits.usage_based and credits.estimated  # the baseline figure is recalled
    standard = _template(creditSpecification={"cpuCredits": "standard"})
    assert not [
        i for i in price(_group(2, 2, 4), cfg, catalog, [standard, _policy(60)]).lines if "credits" in i.name
    ]


def test_asg_graviton_credits_and_no_credits_below_baseline(catalog):
    cfg = stack_cfg(region="us-east-1")
    priced = price(_group(1, 1, 1), cfg, catalog, [_template("t4g.large"), _policy(50)])
    # 730 h x 2 vCPU x (50% - 30%) = 292 vCPU-h x 0.04 $ (T4g, recalled) = 11.68
    assert line_named(priced, "Surplus CPU credits").monthly() == pytest.approx(11.68)
    quiet = price(_group(1, 1, 1), cfg, catalog, [_template("t3.large"), _policy(30)])
    assert not [i for i in quiet.lines if "credits" in i.name]  # 30% target = the t3.large baseline


def _tiered(tier: str, low: int, high: int) -> PlannedResource:
    inputs = {"minSize": low, "desiredCapacity": high, "maxSize": high, "launchTemplate": {"id": "lt-123"}}
    return res(ASG, f"{tier}-asg", inputs, id_="api-asg-1", tier=tier)


def test_asg_credits_are_billed_on_the_demands_24_hour_average_not_the_target(catalog):
    """Error 1 of issue 23: credits were billed at the CPU target even where the capacity model says the
    servers idle below their baseline."""
    from budget.capacity import Measured, kept_measured

    m = kept_measured()
    assert isinstance(m, Measured)
    cfg = stack_cfg("phase1", region="us-east-1")  # 10,000 users, 0.1 deliveries and 0.01 API requests/s each
    priced = price(_tiered("app", 1, 2), cfg, catalog, [_template("t3.medium"), _policy(70)])
    # the app group at peak: 10,000 idle connections, 1,000 deliveries/s and 100 API requests/s
    peak = (
        10_000 * m.realtime_us_per_connection.value
        + 1_000 * m.realtime_us_per_delivery.value
        + 100 * m.api_us_per_request.value
    ) / 1e6
    average = peak / 1.72  # the daily profile: the 24-hour average is the peak / 1.72
    # 2 t3.medium = 4 vCPUs: the average per vCPU is far under the 20% baseline: no credits at all
    assert average / 4 < 0.20
    assert not [i for i in priced.lines if i.name.startswith("Surplus CPU credits")]
    note = line_named(priced, "Instance usage").note
    assert "under the 20% baseline: no surplus credits" in note and f"{average:.3f} cores" in note
    # at ten times the users the average exceeds the baseline: credits for what is above it
    assert cfg.demand is not None  # the phase stack files all state their demand
    busy = cfg.model_copy(update={"demand": cfg.demand.model_copy(update={"concurrent_users": 100_000})})
    priced = price(_tiered("app", 1, 2), busy, catalog, [_template("t3.medium"), _policy(70)])
    share_max = min(0.70, 10 * average * 730 / (2 * 730 * 2))  # load vCPU-h / fleet vCPU-h, capped at target
    share_min = min(0.70, 10 * average * 730 / (1 * 730 * 2))
    credits = line_named(priced, "Surplus CPU credits")
    # max: 1,460 instance-h x 2 vCPU x (average - 20%) x 0.05 $ (us-east-1, CONFIRMED)
    assert credits.monthly("max") == pytest.approx(1_460 * 2 * (share_max - 0.20) * 0.05)
    assert credits.monthly("min") == pytest.approx(730 * 2 * (share_min - 0.20) * 0.05)
    assert f"24-hour average CPU {share_max:.1%} vs 20% baseline" in credits.name


def test_asg_without_demand_prices_credits_at_the_target_and_says_so(catalog):
    cfg = stack_cfg("phase1", region="us-east-1").model_copy(update={"demand": None})
    priced = price(_tiered("app", 1, 1), cfg, catalog, [_template("t3.medium"), _policy(60)])
    credits = line_named(priced, "Surplus CPU credits (unlimited mode; CPU at the 60% target")
    assert credits.monthly() == pytest.approx(730 * 2 * (0.60 - 0.20) * 0.05)  # 58.40
    assert "no stars:demand block" in credits.source and "upper bound" in credits.source


def test_rds_cross_az_transfer_is_none_in_a_single_zone_plan(catalog):
    """Issue 23, error 5: a single-AZ plan placed its servers in two zones and paid for their traffic
    with the data stores; placed in the data stores' zone, it pays none."""
    db = {"engine": "postgres", "instanceClass": "db.t4g.micro", "allocatedStorage": 20, "storageType": "gp3"}
    cfg = stack_cfg("phase1", region="us-east-1")  # cross_az_gb: 200
    spread = line_named(price(res(RDS, "db", db), cfg, catalog), "Cross-AZ data transfer")
    assert spread.monthly() == pytest.approx(200 * 2 * 0.01)  # 400 GB (both directions) x 0.01 $ = 4.00
    single = cfg.model_copy(update={"network": cfg.network.model_copy(update={"placement": "single_zone"})})
    none = line_named(price(res(RDS, "db", db), single, catalog), "Cross-AZ data transfer")
    assert none.monthly() == 0 and "data stores' zone" in none.note and "200 GB" in none.note


def test_rds_t_family_credits_on_the_24_hour_average(catalog):
    """RDS db.t3/db.t4g always run unlimited: USD 0.075 per vCPU-hour above the baseline on the 24-hour
    average (us-east-1), priced from the database's statements; none below the baseline."""
    from budget.capacity import Measured, kept_measured

    m = kept_measured()
    assert isinstance(m, Measured)
    per_statement = m.db_us_per_statement.value
    db = {"engine": "postgres", "instanceClass": "db.t4g.micro", "allocatedStorage": 20, "storageType": "gp3"}
    quiet = price(res(RDS, "db", db), stack_cfg("phase1", region="us-east-1"), catalog)
    # phase 1: 10,000 users x 0.05 statements/s = 500/s at peak; / 1.72 on average
    average = 500 * per_statement / 1e6 / 1.72
    assert average / 2 < 0.10  # db.t4g.micro: 2 vCPU, 10% baseline
    assert not [i for i in quiet.lines if "credits" in i.name]
    assert "no surplus credits" in line_named(quiet, "Database instance").note
    busy_cfg = stack_cfg("phase1", region="us-east-1")
    assert busy_cfg.demand is not None  # the phase stack files all state their demand
    busy_cfg = busy_cfg.model_copy(
        update={"demand": busy_cfg.demand.model_copy(update={"concurrent_users": 100_000})}
    )
    busy = price(res(RDS, "db", db), busy_cfg, catalog)
    share = 5_000 * per_statement / 1e6 / 1.72 / 2  # per vCPU
    credits = line_named(busy, "Surplus CPU credits (T-family, unlimited on RDS")
    # 730 h x 2 vCPU x (average - 10% baseline) x 0.075 $ per vCPU-hour
    assert credits.monthly() == pytest.approx(730 * 2 * (share - 0.10) * 0.075)
    assert credits.usage_based and "RDS instance types page" in credits.source
    # a non-burstable class has no credits
    m6g = price(res(RDS, "db", {**db, "instanceClass": "db.m6g.large"}), busy_cfg, catalog)
    assert not [i for i in m6g.lines if "credits" in i.name or "credits" in i.note]


def test_asg_credit_mode_that_cannot_be_read_fails_closed_and_t2_defaults_to_standard(catalog):
    """The credit mode decides whether surplus credits are billed: unknown is refused, never guessed."""
    cfg = stack_cfg(region="us-east-1")
    for spec, reason in (
        ({"cpuCredits": UNKNOWN}, "creditSpecification.cpuCredits is unknown until deploy"),
        (SECRET, "creditSpecification is a secret in the preview"),
        ({"cpuCredits": "boundless"}, "'boundless' has no rule (known: standard, unlimited)"),
        (["unlimited"], "creditSpecification is not a mapping (list)"),
    ):
        template = _template(creditSpecification=spec)
        assert reason in unpriced(_group(1, 1, 1), cfg, catalog, [template, _policy(60)]).reason
    # a non-burstable type ignores the specification; T2 starts in standard mode: no credits either way
    for itype in ("c6g.large", "t2.medium"):
        quiet = price(_group(1, 1, 1), cfg, catalog, [_template(itype), _policy(60)])
        assert not [i for i in quiet.lines if "credits" in i.name or "credits" in i.note]
    # T2 set to unlimited bills credits: the catalog has no T2 specification (vCPUs, baseline), so it
    # fails closed naming the first figure it lacks
    t2 = _template("t2.medium", creditSpecification={"cpuCredits": "unlimited"})
    assert (
        "no catalog price 'ec2.vcpus.t2.medium'"
        in unpriced(_group(1, 1, 1), cfg, catalog, [t2, _policy(60)]).reason
    )


def test_asg_unpriced_credit_note_stays_when_the_group_runs_only_spot(catalog):
    mixed = {
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-123"}},
        "instancesDistribution": {"onDemandBaseCapacity": 0, "onDemandPercentageAboveBaseCapacity": 0},
    }
    group = res(ASG, "api-asg", {"minSize": 1, "maxSize": 1, "mixedInstancesPolicy": mixed}, id_="api-asg-1")
    spot = line_named(price(group, stack_cfg(region="us-east-1"), catalog, [_template()]), "Instance usage")
    assert "spot" in spot.name
    assert spot.note.startswith("spot prices move with the market; unlimited CPU credits")


# ------------------------------------------------------------------ commitments recorded in the stack


def _purchase(value: str) -> dict[str, str]:
    return {"tier": "test", "purchase": value}


def test_asg_commitment_tag_reserves_the_always_on_minimum(catalog):
    """A group's ``purchase = reserved-1yr`` tag (not propagated) prices its minimum at the RI rate."""
    cfg = stack_cfg()  # af-south-1
    tags = [
        {"key": "tier", "value": "app", "propagateAtLaunch": True},
        {"key": "purchase", "value": "reserved-1yr", "propagateAtLaunch": False},
    ]
    priced = price(_group(2, 2, 3, tags=tags), cfg, catalog, [_template("t4g.small")])
    reserved = line_named(priced, "Instance usage (Linux, reserved 1 yr no upfront, t4g.small)")
    # 2 x 730 = 1,460 h x 0.02184 (af-south-1 ESTIMATE = 0.0168 x 1.30) x (1 - 0.373) = 1,460 x 0.01369368
    # = 19.9927728 at every size
    assert reserved.monthly("min") == reserved.monthly("max") == pytest.approx(19.9927728)
    assert reserved.estimated  # the af-south-1 t4g price is an estimate
    on_demand = line_named(priced, "Instance usage (Linux, on-demand, t4g.small)")
    assert on_demand.monthly("min") == 0  # the minimum is all reserved
    assert on_demand.monthly("max") == pytest.approx(15.9432)  # the third: 730 x 0.02184
    # the same as the reserved what-if on an untagged group
    what_if = price(_group(2, 2, 3), cfg, catalog, [_template("t4g.small")], PricingOptions(reserved=True))
    assert what_if.monthly("max") == pytest.approx(priced.monthly("max"))


def test_asg_commitment_covers_no_spot_and_not_the_off_peak_surplus(catalog):
    """Spot instances and instances scaled away at night are not reservable: only the all-month floor."""
    cfg = stack_cfg(region="us-east-1")
    mixed = {
        "instancesDistribution": {"onDemandBaseCapacity": 1, "onDemandPercentageAboveBaseCapacity": 0},
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-123"}},
    }
    group = res(
        ASG,
        "api-asg",
        {
            "minSize": 3,
            "desiredCapacity": 3,
            "maxSize": 3,
            "mixedInstancesPolicy": mixed,
            "tags": [{"key": "purchase", "value": "reserved-1yr", "propagateAtLaunch": False}],
        },
        id_="api-asg-1",
    )
    priced = price(group, cfg, catalog, [_template()])
    # one on-demand base instance reserved: 730 h x 0.0416 x (1 - 0.373) = 730 x 0.0260832 = 19.040736
    assert line_named(priced, "Instance usage (Linux, reserved").monthly() == pytest.approx(19.040736)
    assert not [i for i in priced.lines if i.name.startswith("Instance usage (Linux, on-demand")]
    # two on spot: 1,460 h x 0.0416 x (1 - 0.56: t3.medium's own us-east-1 figure) = 26.72384
    assert line_named(priced, "Instance usage (Linux, spot").monthly() == pytest.approx(26.72384)


def test_rds_commitment_tag_prices_primary_and_replica_reserved(catalog):
    cfg = stack_cfg("phase2")  # af-south-1
    primary = _primary("db.t4g.small", 20, tags=_purchase("reserved-1yr"))
    replica = res(
        RDS,
        "database-replica",
        {"instanceClass": "db.t4g.small", "replicateSourceDb": "stars-db", "tags": _purchase("reserved-1yr")},
    )
    for db in (primary, replica):
        instance = line_named(price(db, cfg, catalog, [primary]), "Database instance")
        assert instance.name.endswith("reserved 1 yr no upfront")
        # 730 x 0.0416 (af-south-1 ESTIMATE = 0.032 x 1.30) x (1 - 0.296) = 30.368 x 0.704 = 21.379072
        assert instance.monthly() == pytest.approx(21.379072)
    untagged = res(RDS, "db", {"engine": "postgres", "instanceClass": "db.t4g.micro", "allocatedStorage": 20})
    # 730 x 0.0208 (0.016 x 1.30) = 15.184, on demand
    assert line_named(price(untagged, cfg, catalog), "Database instance").monthly() == pytest.approx(15.184)


def test_elasticache_commitment_tag_redis_and_valkey(catalog):
    group = "aws:elasticache/replicationGroup:ReplicationGroup"
    af = stack_cfg()
    redis = res(
        group,
        "cache-redis",
        {"nodeType": "cache.t3.micro", "numCacheClusters": 2, "tags": _purchase("reserved-1yr")},
    )
    # 2 x 730 x 0.021 (af-south-1, ec2instances.info) x (1 - 0.317) = 1,460 x 0.014343 = 20.94078
    assert price(redis, af, catalog).monthly() == pytest.approx(20.94078)
    us = stack_cfg(region="us-east-1")
    valkey = res(
        group,
        "cache-valkey",
        {"nodeType": "cache.t4g.micro", "engine": "valkey", "tags": _purchase("reserved-1yr")},
    )
    # 730 x 0.016 x 0.8 x (1 - 0.317) = 11.68 x 0.8 x 0.683 = 6.381952
    assert price(valkey, us, catalog).monthly() == pytest.approx(6.381952)
    on_demand = res(group, "cache-valkey", {"nodeType": "cache.t4g.micro", "engine": "valkey"})
    assert price(on_demand, us, catalog).monthly() == pytest.approx(9.344)  # 730 x 0.016 x 0.8


def test_an_unknown_purchase_value_fails_closed_and_unknown_tags_price_on_demand(catalog):
    cfg = stack_cfg(region="us-east-1")
    db = {"engine": "postgres", "instanceClass": "db.t4g.micro", "allocatedStorage": 20}
    bad = res(RDS, "db", {**db, "tags": _purchase("reserved-3yr")})
    reason = unpriced(bad, cfg, catalog).reason
    assert "purchase='reserved-3yr' has no price" in reason and "reserved-1yr" in reason
    unknown = res(RDS, "db", {**db, "tags": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"})
    # tags unknown until deploy: the higher, on-demand price 730 x 0.016 = 11.68
    assert line_named(price(unknown, cfg, catalog), "Database instance").monthly() == pytest.approx(11.68)
    explicit = res(RDS, "db", {**db, "tags": _purchase("on-demand")})
    assert line_named(price(explicit, cfg, catalog), "Database instance").name.endswith("on-demand")


# ------------------------------------------------------------------ the types added for lean plans


def test_new_instance_types_by_hand(catalog):
    us, af = stack_cfg(region="us-east-1"), stack_cfg()
    # t4g.xlarge: 730 h x 0.1344 = 98.112; credits 730 x 4 vCPU x (60% - 40% baseline) = 584 x 0.04 = 23.36
    priced = price(_group(1, 1, 1), us, catalog, [_template("t4g.xlarge"), _policy(60)])
    assert line_named(priced, "Instance usage").monthly() == pytest.approx(98.112)
    assert line_named(priced, "Surplus CPU credits").monthly() == pytest.approx(23.36)
    # t3.micro: 730 x 0.0104 = 7.592 (DERIVED, confirmed status); credits 730 x 2 x (50% - 10%) x 0.05 = 29.20
    priced = price(_group(1, 1, 1), us, catalog, [_template("t3.micro"), _policy(50)])
    assert line_named(priced, "Instance usage").monthly() == pytest.approx(7.592)
    assert not line_named(priced, "Instance usage").estimated
    assert line_named(priced, "Surplus CPU credits").monthly() == pytest.approx(29.20)
    # c6g.xlarge is not burstable: no credit line; 730 x 0.1768 (af-south-1 ESTIMATE 0.136 x 1.30) = 129.064
    priced = price(_group(1, 1, 1), af, catalog, [_template("c6g.xlarge"), _policy(70)])
    assert [i.name for i in priced.lines if "credits" in i.name] == []
    assert line_named(priced, "Instance usage").monthly() == pytest.approx(129.064)
    # m7g.large all on spot in af-south-1: 2 x 730 = 1,460 h x 0.10608 x (1 - 0.88 Spot Advisor) = 18.585216
    mixed = {
        "instancesDistribution": {"onDemandBaseCapacity": 0, "onDemandPercentageAboveBaseCapacity": 0},
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-123"}},
    }
    group = res(
        ASG, "api-asg", {"minSize": 2, "desiredCapacity": 2, "maxSize": 2, "mixedInstancesPolicy": mixed}
    )
    spot = line_named(price(group, af, catalog, [_template("m7g.large")]), "Instance usage (Linux, spot")
    assert spot.monthly() == pytest.approx(18.585216)


def test_new_db_classes_and_cache_nodes_by_hand(catalog):
    eu = stack_cfg(region="eu-west-1")
    db = res(
        RDS,
        "db",
        {"engine": "postgres", "instanceClass": "db.t3.small", "multiAz": True, "allocatedStorage": 20},
    )
    instance = line_named(price(db, eu, catalog), "Database instance")
    # 730 x 0.0792 (eu-west-1 ESTIMATE: us-east-1 estimate 0.072 x 1.10) = 57.816, marked estimated
    assert instance.monthly() == pytest.approx(57.816) and instance.estimated
    group = "aws:elasticache/replicationGroup:ReplicationGroup"
    valkey = res(
        group, "cache-valkey", {"nodeType": "cache.t4g.micro", "engine": "valkey", "numCacheClusters": 2}
    )
    # 2 x 730 x 0.017 (eu-west-1, ec2instances.info) x 0.8 = 19.856
    assert price(valkey, eu, catalog).monthly() == pytest.approx(19.856)
    # af-south-1 offers no cache.t4g: no price, so a preview asking for one is unpriced, not guessed
    af_node = res(group, "cache-redis", {"nodeType": "cache.t4g.micro"})
    assert "elasticache.redis.cache.t4g.micro" in unpriced(af_node, stack_cfg(), catalog).reason
