"""User data for the API and realtime servers: fetch the release, hand over to the runtime's installer.

The runtime ships its own installer (``runtime/deploy/bootstrap.sh``: virtualenv, systemd unit, secrets
read by ARN with the instance role). This script only prepares the machine, downloads the release from
the private bucket and calls that installer with non-secret settings: region, endpoints and secret ARNs.
It never carries a secret value: anyone with ``ec2:DescribeLaunchTemplateVersions`` can read user data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Values written into the script must be plain tokens (ARNs, host names, numbers): nothing to escape.
_SAFE = re.compile(r"^[A-Za-z0-9_.:/@+=,*!-]*$")
#: Where the runtime writes its log (a systemd drop-in routes stdout/stderr there for the agent).
APP_LOG = "/var/log/stars/runtime.log"
UNIT = "stars-runtime.service"
AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/stars-platform.json"
AGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"


@dataclass(frozen=True)
class UserDataSpec:
    """What one server needs to know at boot. No field may hold a secret value."""

    role: str  # api | realtime
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


def installer_env(spec: UserDataSpec) -> dict[str, str]:
    """The environment ``runtime/deploy/bootstrap.sh`` reads (see the header of that script)."""
    env = {
        "AWS_REGION": spec.region,
        "STARS_ROLE": spec.role,
        "STARS_JWT_SECRET_ARN": spec.signing_key_secret_arn,
        "STARS_DB_SECRET_ARN": spec.database_secret_arn,
        "STARS_DB_ENDPOINT": f"{spec.database_host}:{spec.database_port}",
        "STARS_DB_NAME": spec.database_name,
        "STARS_REDIS_ENDPOINT": f"{spec.redis_host}:{spec.redis_port}",
        "STARS_REDIS_AUTH_SECRET_ARN": spec.redis_secret_arn,
        "STARS_REDIS_TLS": "1",
        "STARS_HOST": "0.0.0.0",
        "STARS_PORT": str(spec.app_port),
        "STARS_WORKERS": str(spec.workers),
        **spec.extra_env,
    }
    return {_check("key", k): _check(k, v) for k, v in env.items()}


def render_user_data(spec: UserDataSpec) -> str:
    """A cloud-init shell script; every value is validated so none can break out of its line."""
    exports = "\n".join(f"export {k}={v}" for k, v in installer_env(spec).items())
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
            "tar -xzf /opt/stars/release.tar.gz -C /opt/stars/src"
        )
    else:
        fetch = 'echo "no release configured: expecting the repository baked into /opt/stars/src" >&2'
    return f"""#!/bin/bash
# STARS {spec.role} server. No secret in here: the installer reads secrets by ARN with the instance role.
set -euo pipefail
dnf install -y python3.11 amazon-cloudwatch-agent tar
mkdir -p /opt/stars/src /var/log/stars /etc/systemd/system/{UNIT}.d
[ -x /opt/stars/venv/bin/python ] || python3.11 -m venv /opt/stars/venv
{fetch}
SRC="$(dirname "$(dirname "$(find /opt/stars/src -maxdepth 4 -path '*/runtime/__main__.py' | head -n 1)")")"

# Logs to a file the CloudWatch agent ships; give connections time to drain on scale-in.
cat > /etc/systemd/system/{UNIT}.d/10-stars-platform.conf <<'UNIT'
[Service]
StandardOutput=append:{APP_LOG}
StandardError=append:{APP_LOG}
TimeoutStopSec={spec.drain_seconds + 15}
UNIT

cat > {AGENT_CONFIG} <<'AGENT'
{agent}
AGENT
{AGENT_CTL} -a fetch-config -m ec2 -s -c file:{AGENT_CONFIG}

{exports}
export STARS_SOURCE_DIR="$SRC" STARS_VENV=/opt/stars/venv
sh "$SRC/runtime/deploy/bootstrap.sh"
"""
