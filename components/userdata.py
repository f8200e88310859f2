"""User data for the servers (api, realtime or the combined app): prepare the machine, then run the
runtime's own installer.

The runtime owns how it is installed (``runtime.deploy.render_user_data``: exports, then its
``bootstrap.sh`` builds the virtualenv, the systemd unit and reads the secrets by ARN with the instance
role). This module adds what only the infrastructure knows: Python 3.11 and the CloudWatch agent, the
release from the private bucket, the log file the agent ships and a stop timeout that covers the ALB's
deregistration delay. The script never carries a secret value: anyone with
``ec2:DescribeLaunchTemplateVersions`` can read user data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from runtime.deploy import render_user_data as render_installer

#: Values written into the script must be plain tokens (ARNs, host names, numbers): nothing to escape.
_SAFE = re.compile(r"^[A-Za-z0-9_.:/@+=,*!-]*$")
#: Where the runtime writes its log (a systemd drop-in routes stdout/stderr there for the agent).
APP_LOG = "/var/log/stars/runtime.log"
UNIT = "stars-runtime.service"
#: The release is unpacked under /opt/stars/src; this link points at the directory holding ``runtime/``.
SOURCE_DIR = "/opt/stars/current"
AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/stars-platform.json"
AGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
_MARKER = "STARS_INSTALLER_EOF"
#: EC2 refuses user data above 16 KB.
MAX_USER_DATA_BYTES = 16 * 1024


@dataclass(frozen=True)
class UserDataSpec:
    """What one server needs to know at boot. No field may hold a secret value."""

    role: str  # api | realtime | app (the combined tier)
    region: str
    app_port: int
    workers: int
    log_group: str
    database_host: str
    database_name: str
    database_secret_arn: str  # RDS-managed master secret (JSON with username and password)
    redis_host: str
    redis_port: int
    redis_secret_arn: str  # the AUTH token (plain string)
    signing_key_secret_arn: str  # the JWT signing key (plain string)
    release_uri: str | None = None  # s3://bucket/key of the release tarball (the repository)
    database_port: int = 5432
    drain_seconds: int = 60
    extra_env: Mapping[str, str] = field(default_factory=dict)


def _check(name: str, value: object) -> str:
    text = str(value)
    if not _SAFE.match(text):
        raise ValueError(f"user data value {name}={text!r} contains characters that need quoting")
    return text


def installer_script(spec: UserDataSpec) -> str:
    """The runtime's installer with this server's settings (region, endpoints, secret ARNs)."""
    return render_installer(
        region=_check("region", spec.region),
        jwt_secret_arn=_check("signing_key_secret_arn", spec.signing_key_secret_arn),
        db_secret_arn=_check("database_secret_arn", spec.database_secret_arn),
        db_endpoint=_check("database_host", spec.database_host) + f":{int(spec.database_port)}",
        redis_endpoint=_check("redis_host", spec.redis_host) + f":{int(spec.redis_port)}",
        redis_auth_secret_arn=_check("redis_secret_arn", spec.redis_secret_arn),
        redis_tls=True,
        source_dir=SOURCE_DIR,
        db_name=_check("database_name", spec.database_name),
        port=int(spec.app_port),
        workers=int(spec.workers),
        extra_env={
            "STARS_ROLE": _check("role", spec.role),
            **{k: _check(k, v) for k, v in spec.extra_env.items()},
        },
    )


def render_user_data(spec: UserDataSpec) -> str:
    """A cloud-init shell script: machine preparation, then the runtime's installer, under 16 KB."""
    log_group = _check("log_group", spec.log_group)
    agent = json.dumps(
        {
            "logs": {
                "logs_collected": {
                    "files": {
                        "collect_list": [
                            {
                                "file_path": APP_LOG,
                                "log_group_name": log_group,
                                "log_stream_name": "{instance_id}",
                            }
                        ]
                    }
                }
            }
        }
    )
    if spec.release_uri:
        fetch = (
            f"aws s3 cp --region {_check('region', spec.region)} {_check('release_uri', spec.release_uri)}"
            " /opt/stars/release.tar.gz\n"
            "tar -xzf /opt/stars/release.tar.gz -C /opt/stars/src\n"
            'SRC="$(dirname "$(dirname "$(find /opt/stars/src -maxdepth 4 -path \'*/runtime/__main__.py\''
            ' | head -n 1)")")"\n'
            f'ln -sfn "$SRC" {SOURCE_DIR}'
        )
    else:
        fetch = f'echo "no release configured: expecting the repository baked into {SOURCE_DIR}" >&2'
    installer = installer_script(spec)
    if _MARKER in installer:
        raise ValueError(f"the runtime's installer contains the marker {_MARKER}")
    script = f"""#!/bin/bash
# STARS {spec.role} server. No secret in here: the installer reads secrets by ARN with the instance role.
set -euo pipefail
dnf install -y python3.11 amazon-cloudwatch-agent tar
mkdir -p /opt/stars/src /var/log/stars /etc/systemd/system/{UNIT}.d
[ -x /opt/stars/venv/bin/python ] || python3.11 -m venv /opt/stars/venv
{fetch}

# Logs to a file the CloudWatch agent ships; give connections time to drain on scale-in.
cat > /etc/systemd/system/{UNIT}.d/10-stars-platform.conf <<'UNIT'
[Service]
StandardOutput=append:{APP_LOG}
StandardError=append:{APP_LOG}
TimeoutStopSec={int(spec.drain_seconds) + 15}
UNIT

cat > {AGENT_CONFIG} <<'AGENT'
{agent}
AGENT
{AGENT_CTL} -a fetch-config -m ec2 -s -c file:{AGENT_CONFIG}

cat > /opt/stars/install.sh <<'{_MARKER}'
{installer.rstrip()}
{_MARKER}
STARS_VENV=/opt/stars/venv sh /opt/stars/install.sh
"""
    if len(script.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(
            f"user data is {len(script.encode())} bytes; EC2 accepts at most {MAX_USER_DATA_BYTES}"
        )
    return script
