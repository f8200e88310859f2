"""Pin the servers' image: look up the newest AMI of the stack's OS family and write its ids.

The launch templates use the ids in ``stars:image`` and nothing else, so two servers of one group never
boot different images and a new image arrives only as a reviewed change of the stack file::

    python -m components.ami --stack phase1            # print the newest ids (read-only)
    python -m components.ami --stack phase1 --write    # write them and today's date into the file

Lookups (AWS credentials for the stack's region are needed; nothing else is changed in AWS):

- ``al2023``: the public SSM parameter
  ``/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-<arch>``
  that Amazon publishes for each region.
- ``debian-12``: ``DescribeImages`` of Debian's publishing account 136693071363, names
  ``debian-12-amd64-*`` / ``debian-12-arm64-*``, the newest by creation date.

Exit codes: 0 done, 1 the lookup failed (AWS error, no image), 2 bad input (stack file, options).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from components.config import ARCHITECTURES, NAMESPACE, ConfigError, load_stack_file

#: Debian's AWS account that publishes the official Debian AMIs.
DEBIAN_OWNER = "136693071363"
#: Debian names architectures by its own port names.
DEBIAN_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"

#: ``client(service, region)`` -> a boto3 client; tests pass stubbed clients.
ClientFactory = Callable[[str, str], Any]


class ImageLookupError(RuntimeError):
    """AWS did not give an image (an API error, or no image matched)."""


def is_real_update() -> bool:
    """``pulumi up`` against AWS: not a preview, and not the program run under Pulumi's mocks."""
    # Local: ``python -m components.ami`` looks images up without the Pulumi SDK (0.2 s, measured).
    import pulumi
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import SETTINGS

    return not pulumi.runtime.is_dry_run() and not isinstance(SETTINGS.monitor, MockMonitor)


def _boto_client(service: str, region: str) -> Any:
    import boto3  # local: 0.15 s (measured) that the program and the tests' stubbed clients need not pay

    return boto3.client(service, region_name=region)


def newest_al2023(ssm: Any, arch: str) -> str:
    """The AMI id Amazon's public SSM parameter names for the newest AL2023 of ``arch``."""
    name = AL2023_PARAMETER.format(arch=arch)
    value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    return str(value)


def newest_debian12(ec2: Any, arch: str) -> str:
    """The newest available Debian 12 AMI of ``arch`` published by Debian's account."""
    images = ec2.describe_images(
        Owners=[DEBIAN_OWNER],
        Filters=[
            {"Name": "name", "Values": [f"debian-12-{DEBIAN_ARCH[arch]}-*"]},
            {"Name": "architecture", "Values": [arch]},
            {"Name": "state", "Values": ["available"]},
        ],
    )["Images"]
    if not images:
        raise ImageLookupError(f"no debian-12-{DEBIAN_ARCH[arch]}-* image from account {DEBIAN_OWNER}")
    return str(max(images, key=lambda image: image["CreationDate"])["ImageId"])


def newest_ids(os: str, region: str, client: ClientFactory = _boto_client) -> dict[str, str]:
    """The newest image of ``os`` in ``region`` for every architecture the servers may use."""
    try:
        if os == "al2023":
            ssm = client("ssm", region)
            return {arch: newest_al2023(ssm, arch) for arch in ARCHITECTURES}
        ec2 = client("ec2", region)
        return {arch: newest_debian12(ec2, arch) for arch in ARCHITECTURES}
    except (BotoCoreError, ClientError) as exc:
        raise ImageLookupError(f"{os} in {region}: {exc}") from None


def write_ids(path: Path, region: str, ids: dict[str, str], today: dt.date) -> None:
    """Set ``stars:image.ids.<region>`` and ``looked_up`` in the stack file, keeping its comments."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.representer.add_representer(
        type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    document = yaml.load(path.read_text(encoding="utf-8"))
    image = document["config"][f"{NAMESPACE}:image"]
    by_region = image["ids"]
    entry = CommentedMap((arch, ids[arch]) for arch in ARCHITECTURES)
    entry.fa.set_flow_style()
    by_region[region] = entry
    image["looked_up"] = today
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(document, out)


def main(argv: Sequence[str] | None = None, client: ClientFactory = _boto_client) -> int:
    """``python -m components.ami``: print the newest ids, or write them with ``--write``."""
    parser = argparse.ArgumentParser(prog="python -m components.ami", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--stack-file", type=Path, help="another stack file")
    parser.add_argument("--write", action="store_true", help="write the ids and today's date into the file")
    args = parser.parse_args(argv)
    path = args.stack_file or Path(f"Pulumi.{args.stack}.yaml")
    try:
        cfg = load_stack_file(path)
    except ConfigError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    try:
        ids = newest_ids(cfg.image.os, cfg.region, client)
    except ImageLookupError as exc:
        print(f"error: image lookup failed: {exc}", file=sys.stderr)
        return 1
    for arch in ARCHITECTURES:
        print(f"{cfg.region} {arch} {cfg.image.os}: {ids[arch]}")
    if args.write:
        write_ids(path, cfg.region, ids, dt.datetime.now(dt.UTC).date())
        load_stack_file(path)  # the written file must still validate
        print(f"wrote {NAMESPACE}:image.ids.{cfg.region} to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
