"""Defaults AWS applies, priced as stated assumptions; mixed-instances groups; counts unknown until deploy.

Figures by hand from the us-east-1 catalog (arithmetic in the comments): t3.medium 0.0416, t3.large 0.0832,
t3.micro 0.0104 $/h; EBS gp3 0.08, gp2 0.10 $/GB-month; t3 spot discount 0.70 (t3.medium's own 0.56,
t3.large's 0.62).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from budget.model import PlannedResource
from budget.rules.base import SECRET, UNKNOWN
from components.config import UsageConfig
from tests.budget.budget_helpers import line_named, price, res, stack_cfg, unpriced

LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
RDS = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"


def _template(**inputs: object) -> PlannedResource:
    return res(LT, "web-lt", {"instanceType": "t3.medium", **inputs}, id_="lt-1")


def _group(low: object = 2, desired: object = 2, high: object = 4, **extra: object) -> PlannedResource:
    inputs = {"minSize": low, "desiredCapacity": desired, "maxSize": high, "launchTemplate": {"id": "lt-1"}}
    inputs["vpcZoneIdentifiers"] = ["subnet-0abc"]  # outside the preview: no public address by default
    return res(ASG, "web-asg", {**inputs, **extra}, id_="asg-1")


def test_a_template_without_mappings_is_priced_with_the_amis_root_volume(catalog):
    """The issue's case: no blockDeviceMappings used to refuse the whole preview."""
    cfg = stack_cfg(region="us-east-1")
    priced = price(_group(), cfg, catalog, [_template()])
    root = line_named(priced, "Root volume from the AMI (gp3, 8 GB per instance)")
    assert root.monthly("max") == pytest.approx(4 * 8 * 0.08)  # 4 instances x 8 GB x 0.08 = 2.56
    assert root.monthly("min") == pytest.approx(2 * 8 * 0.08)
    assert "stars:usage.ami_root_volume_gb = 8 GB" in root.assumption
    assert "maps no root device" in root.assumption
    assert not [item for item in priced.lines if item is not root and item.assumption]


def test_the_root_volume_default_is_a_usage_setting(catalog):
    cfg = stack_cfg(region="us-east-1", ami_root_volume_gb=30, ami_root_volume_type="gp2")
    root = line_named(price(_group(), cfg, catalog, [_template()]), "Root volume from the AMI (gp2, 30 GB")
    assert root.monthly("max") == pytest.approx(4 * 30 * 0.10)  # 12.00
    assert "ami_root_volume_type = gp2" in root.assumption


@pytest.mark.parametrize(
    ("field", "value"),
    [("ami_root_volume_gb", 0), ("ami_root_volume_gb", 20000), ("ami_root_volume_type", "st1")],
)
def test_root_volume_defaults_are_validated(field, value):
    base = stack_cfg().usage.model_dump()
    with pytest.raises(ValidationError, match=field):
        UsageConfig.model_validate({**base, field: value})


def test_a_data_volume_does_not_replace_the_root_and_an_unset_type_is_gp2(catalog):
    """/dev/xvdf is not the root device: the AMI's root volume is still there. No volumeType: gp2."""
    mappings = [{"deviceName": "/dev/xvdf", "ebs": {"volumeSize": 10}}]
    priced = price(
        _group(1, 1, 1), stack_cfg(region="us-east-1"), catalog, [_template(blockDeviceMappings=mappings)]
    )
    data = line_named(priced, "EBS volume /dev/xvdf (gp2, 10 GB per instance)")
    assert data.monthly("max") == pytest.approx(10 * 0.10)
    assert data.assumption == "volumeType unset: AWS's default gp2"
    assert line_named(priced, "Root volume from the AMI").monthly("max") == pytest.approx(8 * 0.08)


def test_a_mapped_root_volume_is_priced_as_written(catalog):
    mappings = [
        {"deviceName": "/dev/xvda", "ebs": {"volumeSize": 20, "volumeType": "gp3"}},
        {"deviceName": "/dev/sdb", "virtualName": "ephemeral0"},  # instance store: no EBS charge
        {"deviceName": "/dev/sdc", "noDevice": ""},
    ]
    priced = price(
        _group(1, 1, 1), stack_cfg(region="us-east-1"), catalog, [_template(blockDeviceMappings=mappings)]
    )
    volumes = [item for item in priced.lines if "olume" in item.name]
    assert [v.name for v in volumes] == ["Root volume (gp3, 20 GB per instance)"]
    assert not volumes[0].assumption


@pytest.mark.parametrize(
    ("ebs", "reason"),
    [
        ({"volumeSize": 20, "volumeType": "gp3", "iops": 4000}, "gp3 iops above the included 3000"),
        ({"volumeSize": 20, "volumeType": "io2", "iops": 1000}, "no catalog price 'ebs.io2'"),
        ({"volumeSize": 20, "volumeType": "io1"}, "input 'iops' is missing"),
        ({"volumeSize": 20, "volumeType": "io2", "iops": 40000}, "io2 iops 40000 has no catalog price"),
        ({"volumeSize": 0, "volumeType": "gp3"}, "volumeSize must be positive, not 0"),
        ({"volumeSize": "nan", "volumeType": "gp3"}, "volumeSize is not a finite number"),
        ({"volumeSize": UNKNOWN, "volumeType": "gp3"}, "input 'volumeSize' is unknown until deploy"),
        ({"volumeSize": 20, "volumeType": SECRET}, "volumeType is a secret in the preview"),
    ],
)
def test_volumes_the_catalog_cannot_price_fail_closed(catalog, ebs, reason):
    template = _template(blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": ebs}])
    assert reason in unpriced(_group(), stack_cfg(region="us-east-1"), catalog, [template]).reason


def test_a_mapped_root_without_a_type_keeps_the_amis_type(catalog):
    """What a root mapping leaves unset is the AMI's: its type too (not gp2, which is a new volume's)."""
    mappings = [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 30}}]
    cfg = stack_cfg(region="us-east-1")
    root = line_named(price(_group(1, 1, 1), cfg, catalog, [_template(blockDeviceMappings=mappings)]), "Root")
    assert root.name == "Root volume (gp3, 30 GB per instance)"
    assert root.monthly() == pytest.approx(30 * 0.08)  # 2.40
    assert (
        root.assumption
        == "volumeType unset on the root device: the AMI's, stars:usage.ami_root_volume_type = gp3"
    )
    gp2 = stack_cfg(region="us-east-1", ami_root_volume_type="gp2")
    root = line_named(price(_group(1, 1, 1), gp2, catalog, [_template(blockDeviceMappings=mappings)]), "Root")
    assert root.monthly() == pytest.approx(30 * 0.10)  # 3.00


def test_provisioned_iops_and_magnetic_volumes(catalog):
    """io1 bills IOPS-months besides GB-months; magnetic says its I/O requests are not priced."""
    mappings = [
        {"deviceName": "/dev/sdf", "ebs": {"volumeSize": 40, "volumeType": "io1", "iops": 1000}},
        {"deviceName": "/dev/sdg", "ebs": {"volumeSize": 20, "volumeType": "standard"}},
        {"deviceName": "/dev/sdh", "ebs": {"volumeSize": 125, "volumeType": "sc1"}},
    ]
    priced = price(
        _group(2, 2, 2), stack_cfg(region="us-east-1"), catalog, [_template(blockDeviceMappings=mappings)]
    )
    assert line_named(priced, "EBS volume /dev/sdf (io1").monthly() == pytest.approx(2 * 40 * 0.125)  # 10.00
    iops = line_named(priced, "EBS volume /dev/sdf provisioned IOPS (io1, 1000 per instance)")
    assert iops.unit == "IOPS-months" and iops.monthly() == pytest.approx(2 * 1000 * 0.065)  # 130.00
    magnetic = line_named(priced, "EBS volume /dev/sdg (standard")
    assert magnetic.monthly() == pytest.approx(2 * 20 * 0.05) and "I/O requests" in magnetic.note
    assert line_named(priced, "EBS volume /dev/sdh (sc1").monthly() == pytest.approx(2 * 125 * 0.015)
    # af-south-1 has no io1 price: the volume fails closed, naming the key and the region
    template = _template(blockDeviceMappings=mappings[:1])
    assert (
        "no catalog price 'ebs.io1' for region af-south-1"
        in unpriced(_group(), stack_cfg(), catalog, [template]).reason
    )


def test_an_ami_root_type_with_provisioned_iops_fails_closed(catalog):
    cfg = stack_cfg(region="us-east-1", ami_root_volume_type="io1")
    assert (
        "bills provisioned IOPS the usage block does not state"
        in unpriced(_group(), cfg, catalog, [_template()]).reason
    )


def test_rds_storage_type_unset_is_gp2_or_io1_with_iops(catalog):
    cfg = stack_cfg(region="us-east-1", rds_backup_storage_gb=0)
    db = res(RDS, "db", {"engine": "postgres", "instanceClass": "db.t3.large", "allocatedStorage": 20})
    storage = line_named(price(db, cfg, catalog), "Storage (gp2, Single-AZ)")
    assert storage.monthly() == pytest.approx(20 * 0.115)  # 2.30, as infracost's db_instance_test
    assert storage.assumption == "storageType unset: AWS's default gp2 (no iops)"
    io1 = res(RDS, "db", {**db.inputs, "iops": 1000})
    # io1 has no catalog price: the default is named, and the check fails closed on it
    assert "rds.storage.io1.single_az" in unpriced(io1, cfg, catalog).reason
    gp3 = res(RDS, "db", {**db.inputs, "storageType": "gp3", "allocatedStorage": 400, "iops": 14000})
    assert "gp3 iops 14000 above the 12000 included at 400 GB" in unpriced(gp3, cfg, catalog).reason


def _mixed(overrides: list[dict], **distribution: object) -> dict:
    return {
        "mixedInstancesPolicy": {
            "launchTemplate": {
                "launchTemplateSpecification": {"launchTemplateId": "lt-1"},
                "overrides": overrides,
            },
            "instancesDistribution": distribution,
        }
    }


def test_mixed_instances_on_demand_on_the_first_override_and_spot_on_the_cheapest(catalog):
    """Base 1, then 50% on demand: at 5 instances 1 + 2 on demand (t3.large, first: prioritized) and 2
    on spot on the cheaper t3.medium (lowest-price)."""
    group = _group(
        5,
        5,
        5,
        launchTemplate=None,
        **_mixed(
            [{"instanceType": "t3.large"}, {"instanceType": "t3.medium"}],
            onDemandBaseCapacity=1,
            onDemandPercentageAboveBaseCapacity=50,
        ),
    )
    priced = price(group, stack_cfg(region="us-east-1"), catalog, [_template(blockDeviceMappings=[])])
    on_demand = line_named(priced, "Instance usage (Linux, on-demand, t3.large)")
    assert on_demand.quantity.max == pytest.approx(3 * 730)
    spot = line_named(priced, "Instance usage (Linux, spot, t3.medium)")
    assert spot.quantity.max == pytest.approx(2 * 730)
    assert spot.monthly() == pytest.approx(2 * 730 * 0.0416 * 0.44)  # t3.medium's own 56% off
    assert not spot.assumption  # lowest-price picks by price: no assumption
    assert line_named(priced, "Root volume from the AMI").quantity.max == pytest.approx(5 * 8)


def test_capacity_based_spot_strategies_are_priced_on_the_dearest_type_as_an_assumption(catalog):
    group = _group(
        4,
        4,
        4,
        launchTemplate=None,
        **_mixed(
            [{"instanceType": "t3.medium"}, {"instanceType": "t3.large"}],
            onDemandPercentageAboveBaseCapacity=0,
            spotAllocationStrategy="price-capacity-optimized",
        ),
    )
    priced = price(group, stack_cfg(region="us-east-1"), catalog, [_template()])
    spot = line_named(priced, "Instance usage (Linux, spot, t3.large)")
    assert spot.monthly() == pytest.approx(4 * 730 * 0.0832 * 0.38)  # t3.large's own 62% off
    assert "picks spot pools by capacity" in spot.assumption and "upper bound" in spot.assumption


def test_weighted_capacity_counts_instances_per_unit(catalog):
    """infracost's asg_mixed_instance_basic: desired 6 units of t2.large weight 2 = 3 instances."""
    group = _group(
        1,
        6,
        10,
        launchTemplate=None,
        **_mixed(
            [
                {"instanceType": "t3.large", "weightedCapacity": "2"},
                {"instanceType": "t3.xlarge", "weightedCapacity": "4"},
            ],
            onDemandBaseCapacity=1,
            onDemandPercentageAboveBaseCapacity=100,
        ),
    )
    hours = line_named(price(group, stack_cfg(region="us-east-1"), catalog, [_template()]), "Instance usage")
    # min 1 unit -> 1 instance (rounded up), desired 6 -> 3, max 10 -> 5
    assert (hours.quantity.min, hours.quantity.desired, hours.quantity.max) == (730, 2190, 3650)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"instanceRequirements": {"vcpuCount": {"min": 2}}}, "selects types by attributes"),
        (
            {"instanceType": "t3.large", "launchTemplateSpecification": {"launchTemplateId": "x"}},
            "own launch template",
        ),
        ({"instanceType": UNKNOWN}, "instanceType is unknown until deploy"),
        ({"instanceType": "t3.large", "weightedCapacity": "0"}, "must be positive"),
    ],
)
def test_overrides_that_cannot_be_told_fail_closed(catalog, override, reason):
    group = _group(launchTemplate=None, **_mixed([override, {"instanceType": "t3.medium"}]))
    assert reason in unpriced(group, stack_cfg(region="us-east-1"), catalog, [_template()]).reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"minSize": UNKNOWN}, "input 'minSize' is unknown until deploy"),
        ({"maxSize": SECRET}, "input 'maxSize' is a secret in the preview"),
    ],
)
def test_unknown_group_sizes_fail_closed_naming_the_field(catalog, changes, reason):
    group = res(ASG, "web-asg", {**_group().inputs, **changes}, id_="asg-1")
    assert reason in unpriced(group, stack_cfg(region="us-east-1"), catalog, [_template()]).reason


def test_an_unknown_desired_capacity_is_priced_at_the_minimum(catalog):
    group = _group(2, UNKNOWN, 4)
    hours = line_named(price(group, stack_cfg(region="us-east-1"), catalog, [_template()]), "Instance usage")
    assert (hours.quantity.min, hours.quantity.desired, hours.quantity.max) == (1460, 1460, 2920)


@pytest.mark.parametrize("field", ["numCacheClusters", "numNodeGroups"])
def test_unknown_cache_node_counts_fail_closed_naming_the_field(catalog, field):
    group = res(CACHE, "cache", {"nodeType": "cache.t3.small", field: UNKNOWN})
    assert (
        f"input '{field}' is unknown until deploy"
        in unpriced(group, stack_cfg(region="us-east-1"), catalog).reason
    )
