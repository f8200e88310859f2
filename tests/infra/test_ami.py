"""The image pinning command: lookups through stubbed AWS clients (no network), the file it writes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from components import ami
from components.config import load_stack_file

ROOT = Path(__file__).resolve().parents[2]
X86 = "ami-0123456789abcdef0"
ARM = "ami-0fedcba9876543210"


def _client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")


def _al2023_stub(region: str) -> tuple[Any, Stubber]:
    ssm = _client("ssm", region)
    stub = Stubber(ssm)
    for arch, image in (("x86_64", X86), ("arm64", ARM)):
        name = f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
        stub.add_response(
            "get_parameter",
            {"Parameter": {"Name": name, "Type": "String", "Value": image}},
            {"Name": name},
        )
    return ssm, stub


def _debian_images(arch: str, newest: str) -> dict[str, Any]:
    port = ami.DEBIAN_ARCH[arch]
    return {
        "Images": [
            {
                "ImageId": "ami-00000000aaaaaaaaa",
                "CreationDate": "2025-01-10T00:00:00.000Z",
                "Name": f"debian-12-{port}-20250110-1",
            },
            {
                "ImageId": newest,
                "CreationDate": "2025-11-20T00:00:00.000Z",
                "Name": f"debian-12-{port}-20251120-2",
            },
            {
                "ImageId": "ami-00000000bbbbbbbbb",
                "CreationDate": "2025-06-01T00:00:00.000Z",
                "Name": f"debian-12-{port}-20250601-3",
            },
        ]
    }


def test_al2023_reads_the_public_ssm_parameter_per_architecture() -> None:
    ssm, stub = _al2023_stub("af-south-1")
    with stub:
        ids = ami.newest_ids("al2023", "af-south-1", lambda service, region: ssm)
    stub.assert_no_pending_responses()
    assert ids == {"x86_64": X86, "arm64": ARM}


def test_debian12_takes_the_newest_image_of_debians_account() -> None:
    ec2 = _client("ec2", "eu-west-1")
    stub = Stubber(ec2)
    for arch, newest in (("x86_64", X86), ("arm64", ARM)):
        stub.add_response(
            "describe_images",
            _debian_images(arch, newest),
            {
                "Owners": ["136693071363"],
                "Filters": [
                    {"Name": "name", "Values": [f"debian-12-{ami.DEBIAN_ARCH[arch]}-*"]},
                    {"Name": "architecture", "Values": [arch]},
                    {"Name": "state", "Values": ["available"]},
                ],
            },
        )
    with stub:
        ids = ami.newest_ids("debian-12", "eu-west-1", lambda service, region: ec2)
    assert ids == {"x86_64": X86, "arm64": ARM}


def test_no_image_or_an_aws_error_is_a_lookup_error() -> None:
    ec2 = _client("ec2", "eu-west-1")
    stub = Stubber(ec2)
    stub.add_response("describe_images", {"Images": []})
    with stub, pytest.raises(ami.ImageLookupError, match="no debian-12-amd64"):
        ami.newest_ids("debian-12", "eu-west-1", lambda service, region: ec2)
    ssm = _client("ssm", "af-south-1")
    stub = Stubber(ssm)
    stub.add_client_error("get_parameter", "AccessDeniedException", "not allowed")
    with stub, pytest.raises(ami.ImageLookupError, match="AccessDenied"):
        ami.newest_ids("al2023", "af-south-1", lambda service, region: ssm)


def test_write_pins_the_ids_and_date_and_keeps_the_file_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "Pulumi.phase1.yaml"
    shutil.copy(ROOT / "Pulumi.phase1.yaml", path)
    before = path.read_text()
    ssm, stub = _al2023_stub("af-south-1")
    with stub:
        code = ami.main(["--stack", "phase1", "--stack-file", str(path), "--write"], lambda s, r: ssm)
    assert code == 0
    cfg = load_stack_file(path)
    assert cfg.image.ids["af-south-1"] == {"x86_64": X86, "arm64": ARM}
    assert cfg.image.looked_up == dt.datetime.now(dt.UTC).date()
    after = path.read_text()
    assert "# The servers' image, pinned" in after  # comments kept
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert len(changed) == 2, changed  # only the ids line and looked_up
    assert f"af-south-1 x86_64 al2023: {X86}" in capsys.readouterr().out


def test_bad_stack_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Pulumi.phase1.yaml"
    path.write_text((ROOT / "Pulumi.phase1.yaml").read_text().replace("os: al2023", "os: centos"))
    code = ami.main(["--stack", "phase1", "--stack-file", str(path)], lambda s, r: pytest.fail("no lookup"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "stars:image.os" in err and "debian-12" in err


def test_pinned_ids_reach_the_launch_templates() -> None:
    from components.planning.mocks import plan_resources

    cfg = load_stack_file(ROOT / "Pulumi.phase1.yaml")
    templates = [r for r in plan_resources(cfg) if r.type == "aws:ec2/launchTemplate:LaunchTemplate"]
    assert templates
    for template in templates:
        arch = cfg.server_tiers[template.tier].architecture
        assert template.inputs["imageId"] == cfg.image.ids[cfg.region][arch]
