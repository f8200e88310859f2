"""A standalone EC2 instance (``aws:ec2/instance:Instance``): the group rule's price model for one instance.

Figures by hand from the us-east-1 catalog (arithmetic in the comments): t3.medium 0.0416, t4g.medium
0.0336 $/h; t3.medium spot discount 0.56 (the size's own Spot Advisor figure; the t3 family's 0.70 for
other sizes); EC2 1-yr no-upfront RI discount 0.373; EBS gp3 0.08, gp2 0.10, io1 0.125 $/GB-month, io1
IOPS 0.065 $/IOPS-month; detailed monitoring 0.30 $/metric-month; public IPv4 0.005 $/h.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from budget.cli import main
from budget.estimator import estimate_preview
from budget.html_report import render_html
from budget.preview import parse_preview_document
from budget.report.build import stack_report
from budget.rules import PricingOptions
from budget.rules.base import SECRET, UNKNOWN
from budget.whatif import all_spot, graviton
from tests.budget.budget_helpers import line_named, price, res, stack_cfg, unpriced

INSTANCE = "aws:ec2/instance:Instance"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
US = "us-east-1"


#: A subnet outside the preview: AWS's default for a subnet one creates assigns no public address.
SUBNET_ID = "subnet-0abc"


def _instance(**inputs: object) -> Any:
    return res(INSTANCE, "bastion", {"instanceType": "t3.medium", "subnetId": SUBNET_ID, **inputs})


def _names(priced: Any) -> list[str]:
    return [item.name for item in priced.lines]


def test_an_instance_runs_all_month_on_demand_with_the_amis_root_volume(catalog):
    priced = price(_instance(), stack_cfg(region=US), catalog)
    assert _names(priced) == [
        "Instance usage (Linux, on-demand, t3.medium)",
        "Root volume from the AMI (gp3, 8 GB per instance)",
    ]
    hours = line_named(priced, "Instance usage")
    assert hours.quantity.max == 730 and hours.monthly() == pytest.approx(30.368)  # 730 x 0.0416
    assert not hours.quantity.varies  # one instance: the same at min, desired and max
    root = line_named(priced, "Root volume from the AMI")
    assert root.monthly() == pytest.approx(0.64)  # 8 GB x 0.08
    assert root.assumption == (
        "instance 'bastion' sets no rootBlockDevice: the AMI's root volume, stars:usage.ami_root_volume_gb"
        " = 8 GB and ami_root_volume_type = gp3 (Amazon Linux 2023's default)"
    )
    # T3 starts in unlimited mode; a lone instance has no CPU target: the note says credits are not priced
    assert "unlimited CPU credits" in hours.note and "standalone instance has no CPU target" in hours.note


def test_root_and_ebs_volumes_as_written_and_the_defaults_they_leave(catalog):
    instance = _instance(
        rootBlockDevice={"volumeSize": 30},
        ebsBlockDevices=[
            {"deviceName": "/dev/sdf", "volumeSize": 10},
            {"deviceName": "/dev/sdg", "volumeSize": 40, "volumeType": "io1", "iops": 1000},
            {"deviceName": "/dev/sdh", "volumeSize": 50, "volumeType": "gp3", "iops": 3000},
        ],
    )
    priced = price(instance, stack_cfg(region=US), catalog)
    root = line_named(priced, "Root volume (gp3, 30 GB per instance)")
    assert root.monthly() == pytest.approx(2.40)  # 30 x 0.08: the AMI's type, stated
    assert (
        root.assumption
        == "volumeType unset on the root device: the AMI's, stars:usage.ami_root_volume_type = gp3"
    )
    data = line_named(priced, "EBS volume /dev/sdf (gp2, 10 GB per instance)")
    assert data.monthly() == pytest.approx(1.00) and data.assumption == "volumeType unset: AWS's default gp2"
    assert line_named(priced, "EBS volume /dev/sdg (io1").monthly() == pytest.approx(5.00)  # 40 x 0.125
    assert line_named(priced, "EBS volume /dev/sdg provisioned IOPS").monthly() == pytest.approx(65.00)
    assert line_named(priced, "EBS volume /dev/sdh (gp3").monthly() == pytest.approx(4.00)  # 50 x 0.08
    assert not [n for n in _names(priced) if "from the AMI" in n]  # the root is mapped
    empty = price(_instance(rootBlockDevice={}), stack_cfg(region=US), catalog)
    root = line_named(empty, "Root volume (gp3, 8 GB per instance)")  # size and type both the AMI's
    assert "volumeSize unset" in root.assumption and "volumeType unset on the root device" in root.assumption


def test_spot_reserved_and_on_demand(catalog):
    cfg = stack_cfg(region=US)
    spot = line_named(
        price(_instance(instanceMarketOptions={"marketType": "spot"}), cfg, catalog), "Instance usage"
    )
    assert spot.name == "Instance usage (Linux, spot, t3.medium)"
    assert spot.monthly() == pytest.approx(730 * 0.0416 * 0.44)  # 13.36192: t3.medium's own 56% off
    assert spot.estimated and spot.note.startswith("spot prices move with the market")
    tagged = _instance(tags={"purchase": "reserved-1yr"})
    reserved = line_named(price(tagged, cfg, catalog), "Instance usage")
    assert reserved.name == "Instance usage (Linux, reserved 1 yr no upfront, t3.medium)"
    assert reserved.monthly() == pytest.approx(730 * 0.0416 * 0.627)  # 19.0407
    what_if = line_named(price(_instance(), cfg, catalog, options=PricingOptions(reserved=True)), "Instance")
    assert what_if.name == reserved.name  # the reserved what-if reserves a lone instance: it runs all month
    # a spot instance is not covered by a reservation: spot wins over the tag
    both = _instance(tags={"purchase": "reserved-1yr"}, instanceMarketOptions={"marketType": "spot"})
    assert line_named(price(both, cfg, catalog), "Instance usage").name == spot.name
    # options without a market type launch on demand
    plain = price(_instance(instanceMarketOptions={"spotOptions": {}}), cfg, catalog)
    assert line_named(plain, "Instance usage").name.startswith("Instance usage (Linux, on-demand")


def test_credit_modes(catalog):
    cfg = stack_cfg(region=US)
    standard = price(_instance(creditSpecification={"cpuCredits": "standard"}), cfg, catalog)
    assert line_named(standard, "Instance usage").note == ""
    for itype in ("t2.medium", "c6g.large"):  # T2 starts in standard mode; c6g is not burstable
        assert line_named(price(_instance(instanceType=itype), cfg, catalog), "Instance usage").note == ""
    t2 = _instance(instanceType="t2.medium", creditSpecification={"cpuCredits": "unlimited"})
    assert "unlimited CPU credits" in line_named(price(t2, cfg, catalog), "Instance usage").note


def test_detailed_monitoring_and_a_public_ipv4_address(catalog):
    priced = price(_instance(monitoring=True, associatePublicIpAddress=True), stack_cfg(region=US), catalog)
    assert line_named(priced, "Detailed monitoring (7 metrics per instance)").monthly() == pytest.approx(2.10)
    assert line_named(priced, "Public IPv4 address per instance").monthly() == pytest.approx(3.65)
    quiet = price(
        _instance(monitoring=False, associatePublicIpAddress="false"), stack_cfg(region=US), catalog
    )
    assert not [n for n in _names(quiet) if "monitoring" in n or "IPv4" in n]


#: The same settings written on an instance and in a launch template (root 20 GB gp3, io1 data volume,
#: detailed monitoring, a public address).
ON_INSTANCE: dict[str, Any] = {
    "monitoring": True,
    "associatePublicIpAddress": True,
    "rootBlockDevice": {"volumeSize": 20, "volumeType": "gp3"},
    "ebsBlockDevices": [{"deviceName": "/dev/sdf", "volumeSize": 40, "volumeType": "io1", "iops": 500}],
}
IN_TEMPLATE: dict[str, Any] = {
    "monitoring": {"enabled": True},
    "networkInterfaces": [{"associatePublicIpAddress": "true"}],
    "blockDeviceMappings": [
        {"deviceName": "/dev/xvda", "ebs": {"volumeSize": 20, "volumeType": "gp3"}},
        {"deviceName": "/dev/sdf", "ebs": {"volumeSize": 40, "volumeType": "io1", "iops": 500}},
    ],
}


def test_one_price_model_for_an_instance_alone_or_in_a_group(catalog):
    """A group of one with the same settings in its template prices the same lines at the same figures."""
    cfg = stack_cfg(region=US)
    alone = price(_instance(**ON_INSTANCE), cfg, catalog)
    template = res(LT, "one-lt", {"instanceType": "t3.medium", **IN_TEMPLATE}, id_="lt-1")
    group = res(ASG, "one", {"minSize": 1, "maxSize": 1, "launchTemplate": {"id": "lt-1"}})
    grouped = price(group, cfg, catalog, [template])
    assert [(i.name, round(i.monthly(), 6), i.source) for i in alone.lines] == [
        (i.name, round(i.monthly(), 6), i.source) for i in grouped.lines
    ]


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ({"instanceType": None}, "input 'instanceType' is missing"),
        ({"instanceType": UNKNOWN}, "input 'instanceType' is unknown until deploy"),
        ({"instanceType": SECRET}, "input 'instanceType' is a secret in the preview"),
        ({"instanceType": {"size": "large"}}, "input 'instanceType' is not a type name"),
        ({"instanceType": "m5.large"}, "no catalog price 'ec2.instance.m5.large' for region us-east-1"),
        ({"instanceMarketOptions": {"marketType": UNKNOWN}}, "instanceMarketOptions.marketType is unknown"),
        ({"instanceMarketOptions": SECRET}, "instanceMarketOptions is a secret in the preview"),
        (
            {"instanceMarketOptions": {"marketType": "capacity-block"}},
            "marketType 'capacity-block' has no rule (known: spot)",
        ),
        ({"creditSpecification": {"cpuCredits": UNKNOWN}}, "creditSpecification.cpuCredits is unknown"),
        ({"monitoring": UNKNOWN}, "input 'monitoring' is unknown until deploy"),
        ({"associatePublicIpAddress": SECRET}, "input 'associatePublicIpAddress' is a secret"),
        ({"rootBlockDevice": UNKNOWN}, "rootBlockDevice is unknown until deploy"),
        ({"rootBlockDevice": {"volumeSize": UNKNOWN}}, "input 'volumeSize' is unknown until deploy"),
        ({"rootBlockDevice": {"volumeType": UNKNOWN}}, "rootBlockDevice volumeType is unknown until deploy"),
        ({"rootBlockDevice": {"volumeType": "gp3", "throughput": 500}}, "gp3 throughput above the included"),
        ({"ebsBlockDevices": UNKNOWN}, "ebsBlockDevices are unknown until deploy"),
        ({"ebsBlockDevices": [SECRET]}, "ebsBlockDevices[0] is a secret in the preview"),
        ({"ebsBlockDevices": [{"deviceName": "/dev/sdf"}]}, "input 'volumeSize' is missing"),
        ({"ebsBlockDevices": [{"volumeSize": 9, "volumeType": "io1"}]}, "input 'iops' is missing"),
        ({"launchTemplate": {"id": "lt-1"}}, "launch template 'lt-1' not found among the planned resources"),
        ({"launchTemplate": "lt-1"}, "launchTemplate is not a mapping (str)"),
        ({"tenancy": "dedicated"}, "tenancy 'dedicated': dedicated instances have no catalog price"),
        ({"tenancy": UNKNOWN}, "input 'tenancy' is unknown until deploy"),
        ({"hostId": "h-0123"}, "hostId: an instance on a dedicated host is billed through the host"),
        ({"instanceType": "r3.xlarge", "ebsOptimized": True}, "ebsOptimized on r3.xlarge bills an hourly"),
        ({"instanceType": "r3.xlarge", "ebsOptimized": UNKNOWN}, "input 'ebsOptimized' is unknown"),
    ],
)
def test_what_cannot_be_priced_fails_closed_naming_it(catalog, inputs, reason):
    assert reason in unpriced(_instance(**inputs), stack_cfg(region=US), catalog).reason


def _template(**inputs: object) -> Any:
    return res(LT, "bastion-lt", {"instanceType": "t3.medium", **inputs}, id_="lt-1")


def _launched(**inputs: object) -> Any:
    return res(INSTANCE, "bastion", {"launchTemplate": {"id": "lt-1", "version": "$Latest"}, **inputs})


def test_an_instance_takes_what_it_leaves_unset_from_its_launch_template(catalog):
    """Launched from a template that holds the settings, it prices as the instance holding them itself."""
    cfg = stack_cfg(region=US)
    spot = {"instanceMarketOptions": {"marketType": "spot"}}
    alone = price(_instance(**ON_INSTANCE, **spot), cfg, catalog)
    template = _template(**IN_TEMPLATE, **spot)
    launched = price(_launched(), cfg, catalog, [template])
    assert [(i.name, round(i.monthly(), 6)) for i in launched.lines] == [
        (i.name, round(i.monthly(), 6)) for i in alone.lines
    ]
    assert "spot" in line_named(launched, "Instance usage").name
    # found by name too, and with the version the preview leaves unknown (the template's new one)
    by_name = _launched(launchTemplate={"name": "bastion-lt", "version": UNKNOWN})
    assert _names(price(by_name, cfg, catalog, [template])) == _names(launched)


def test_what_the_instance_sets_wins_over_its_template(catalog):
    cfg = stack_cfg(region=US)
    template = _template(monitoring={"enabled": True}, networkInterfaces=[{"associatePublicIpAddress": True}])
    own = _launched(instanceType="t4g.medium", monitoring=False, associatePublicIpAddress=False)
    priced = price(own, cfg, catalog, [template])
    assert _names(priced) == [
        "Instance usage (Linux, on-demand, t4g.medium)",
        "Root volume from the AMI (gp3, 8 GB per instance)",
    ]
    assert line_named(priced, "Instance usage").monthly() == pytest.approx(24.528)  # 730 x 0.0336
    # a template that maps no root device leaves the AMI's, and the assumption says whose mapping it is
    root = line_named(price(_launched(), cfg, catalog, [_template()]), "Root volume from the AMI")
    assert root.assumption.startswith("launch template 'bastion-lt' maps no root device")


@pytest.mark.parametrize(
    ("instance", "template", "reason"),
    [
        (
            {"launchTemplate": {"id": "lt-1", "version": "3"}},
            {},
            "launchTemplate.version '3': a fixed version",
        ),
        ({"launchTemplate": {"id": "lt-1", "version": SECRET}}, {}, "launchTemplate.version is a secret"),
        (
            {"rootBlockDevice": {"volumeSize": 30}},
            {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 20}}]},
            "block devices mapped both on the instance and in its launch template",
        ),
        ({}, {"placement": {"tenancy": "dedicated"}}, "launch template 'bastion-lt' placement: tenancy"),
        ({}, {"placement": {"hostId": "h-1"}}, "placement: hostId: an instance on a dedicated host"),
        ({}, {"monitoring": {"enabled": UNKNOWN}}, "input 'monitoring' is unknown until deploy"),
        ({}, {"instanceType": UNKNOWN}, "input 'instanceType' is unknown until deploy"),
        ({}, {"networkInterfaces": UNKNOWN}, "the launch template's networkInterfaces are unknown"),
        # a wrong shape is named as one (it used to read "unknown until deploy")
        ({}, {"networkInterfaces": {"deviceIndex": 0}}, "networkInterfaces are not a list (dict)"),
        (
            {},
            {"blockDeviceMappings": {"deviceName": "/dev/xvda"}},
            "blockDeviceMappings are not a list (dict)",
        ),
        ({}, {"blockDeviceMappings": ["/dev/xvda"]}, "blockDeviceMappings[0] is not a mapping (str)"),
        ({}, {"instanceType": "r3.xlarge", "ebsOptimized": "true"}, "ebsOptimized on r3.xlarge bills"),
    ],
)
def test_what_a_launch_template_leaves_unpriceable_fails_closed(catalog, instance, template, reason):
    cfg = stack_cfg(region=US)
    launched = _launched(**instance)
    assert reason in unpriced(launched, cfg, catalog, [_template(**template)]).reason


def test_a_current_type_is_ebs_optimized_at_no_charge(catalog):
    priced = price(_instance(ebsOptimized=True), stack_cfg(region=US), catalog)
    assert _names(priced) == [
        "Instance usage (Linux, on-demand, t3.medium)",
        "Root volume from the AMI (gp3, 8 GB per instance)",
    ]


def test_the_what_ifs_treat_a_lone_instance_like_a_group(catalog):
    cfg = stack_cfg(region=US)
    instance = _instance(instanceMarketOptions={"spotOptions": {"maxPrice": "0.02"}})
    (spot,) = all_spot([instance])
    assert spot.inputs["instanceMarketOptions"] == {"spotOptions": {"maxPrice": "0.02"}, "marketType": "spot"}
    assert "spot" in line_named(price(spot, cfg, catalog), "Instance usage").name
    (arm,) = graviton([instance])
    hours = line_named(price(arm, cfg, catalog), "Instance usage")
    assert hours.name == "Instance usage (Linux, on-demand, t4g.medium)"
    assert hours.monthly() == pytest.approx(730 * 0.0336)  # 24.528
    assert instance.inputs["instanceType"] == "t3.medium"  # the plan itself is not modified


def _document() -> dict[str, Any]:
    urn = "urn:pulumi:phase1::stars::aws:ec2/instance:Instance::bastion"
    state = {
        "urn": urn,
        "type": INSTANCE,
        "custom": True,
        "id": "",
        "inputs": {
            "ami": "ami-0abc",
            "instanceType": "t3.medium",
            "subnetId": SUBNET_ID,
            "tags": {"tier": "ops"},
        },
    }
    return {
        "config": {"aws:region": US},
        "steps": [{"op": "create", "urn": urn, "newState": state}],
        "changeSummary": {"create": 1},
    }


def _check(tmp_path: Path, fmt: str) -> str:
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(_document()), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(
            ["check", "--stack", "phase1", "--preview-json", str(path), "--no-what-ifs", "--format", fmt]
        )
    assert code == 0, out.getvalue()
    return out.getvalue()


def test_a_preview_with_an_instance_is_priced_and_marks_the_ami_root_in_every_format(catalog, tmp_path):
    """Before this rule a standalone instance was an unknown type: the whole preview was exit 2."""
    doc = json.loads(_check(tmp_path, "json"))
    (bastion,) = [r for r in doc["resources"] if r["name"] == "bastion"]
    assert bastion["region"] == US and bastion["tier"] == "ops"
    assert bastion["monthly_usd"] == pytest.approx(30.37 + 0.64, abs=0.01)
    (root,) = [item for item in bastion["lines"] if item.get("assumption")]
    assert root["name"] == "Root volume from the AMI (gp3, 8 GB per instance)"
    assert "instance 'bastion' sets no rootBlockDevice" in root["assumption"]
    assert not doc["unpriced"]
    table = _check(tmp_path, "table")
    assert "Priced on AWS defaults the program leaves unset" in table and "sets no rootBlockDevice" in table
    markdown = _check(tmp_path, "markdown")
    assert "**Assumed AWS defaults**" in markdown and "instance 'bastion' sets no rootBlockDevice" in markdown
    est = estimate_preview(parse_preview_document(_document()), stack_cfg("phase1"), catalog, "preview.json")
    html = render_html([stack_report(est)])
    assert (
        'title="instance &#39;bastion&#39; sets no rootBlockDevice' in html and "assumed AWS default" in html
    )


SUBNET = "aws:ec2/subnet:Subnet"


def _subnet(maps: object, name: str = "public-a") -> Any:
    return res(SUBNET, name, {"vpcId": "vpc-1", "mapPublicIpOnLaunch": maps}, id_=f"{name}-id")


def test_an_instance_in_no_subnet_gets_the_default_vpcs_public_address_as_an_assumption(catalog):
    priced = price(_instance(subnetId=None), stack_cfg(region=US), catalog)
    ipv4 = line_named(priced, "Public IPv4 address per instance")
    assert ipv4.monthly() == pytest.approx(3.65)  # 730 h x 0.005
    assert ipv4.assumption.startswith("'bastion' names no subnet (subnetId): it launches in the default VPC")
    # saying so on the instance settles it either way; attached interfaces bring their own addresses
    for settled in (
        {"associatePublicIpAddress": False},
        {"networkInterfaces": [{"networkInterfaceId": "eni-1"}]},
    ):
        quiet = price(_instance(subnetId=None, **settled), stack_cfg(region=US), catalog)
        assert not [n for n in _names(quiet) if "IPv4" in n]


def test_a_subnet_in_the_preview_decides_by_its_map_public_ip_on_launch(catalog):
    cfg = stack_cfg(region=US)
    mapping = price(_instance(subnetId="public-a-id"), cfg, catalog, [_subnet(True)])
    ipv4 = line_named(mapping, "Public IPv4 address per instance")
    assert ipv4.monthly() == pytest.approx(3.65) and not ipv4.assumption
    assert ipv4.note == "subnet 'public-a' assigns a public IPv4 address on launch (mapPublicIpOnLaunch)"
    private = price(_instance(subnetId="public-a-id"), cfg, catalog, [_subnet(False)])
    assert not [n for n in _names(private) if "IPv4" in n]
    # a subnet being created has no id yet: the instance's dependency names it
    unknown = res(
        INSTANCE,
        "bastion",
        {"instanceType": "t3.medium", "subnetId": UNKNOWN},
        deps={"subnetId": [_subnet("true").urn]},
    )
    assert "Public IPv4 address per instance" in _names(price(unknown, cfg, catalog, [_subnet("true")]))
    reason = unpriced(_instance(subnetId="public-a-id"), cfg, catalog, [_subnet(UNKNOWN)]).reason
    assert "subnet 'public-a' mapPublicIpOnLaunch is unknown until deploy" in reason


def test_a_group_in_the_default_vpc_pays_an_address_per_instance_hour(catalog):
    cfg = stack_cfg(region=US)
    template = res(LT, "web-lt", {"instanceType": "t3.medium"}, id_="lt-1")
    placed_by_zone = res(
        ASG,
        "web",
        {"minSize": 1, "desiredCapacity": 2, "maxSize": 3, "launchTemplate": {"id": "lt-1"}},
    )
    ipv4 = line_named(price(placed_by_zone, cfg, catalog, [template]), "Public IPv4 address per instance")
    assert (ipv4.monthly("min"), ipv4.monthly("max")) == (pytest.approx(3.65), pytest.approx(10.95))
    assert "names no subnet (vpcZoneIdentifiers)" in ipv4.assumption
    in_private = res(
        ASG,
        "web",
        {
            "minSize": 1,
            "maxSize": 3,
            "launchTemplate": {"id": "lt-1"},
            "vpcZoneIdentifiers": ["private-a-id"],
        },
    )
    priced = price(in_private, cfg, catalog, [template, _subnet(False, "private-a")])
    assert not [n for n in _names(priced) if "IPv4" in n]
    # the template's interface saying "no" settles it, whatever the subnet
    says_no = res(
        LT,
        "web-lt",
        {"instanceType": "t3.medium", "networkInterfaces": [{"associatePublicIpAddress": "false"}]},
        id_="lt-1",
    )
    assert not [n for n in _names(price(placed_by_zone, cfg, catalog, [says_no])) if "IPv4" in n]
