"""User data for the servers (api, realtime or the combined app): prepare the machine, then run the
runtime's own installer on the release the program uploaded.

The servers run Debian 12 (Amazon Linux 2023 cannot be built outside AWS, so its boot could never be run
end to end before a deploy; a Debian 12 root can, see tests/boot). The image brings python3 (3.11) and
nothing else this needs: no AWS CLI, no package index. The runtime owns how it is installed
(``runtime.deploy.render_user_data``: it fetches the release through the S3 endpoint, checks its digest,
installs it offline, reads the secrets by ARN with the instance role and starts the systemd unit). This
module adds what only the infrastructure knows: the release's key and digest, the log file the CloudWatch
agent ships, and a stop timeout that covers the load balancer's deregistration delay. The script never
carries a secret value: anyone with ``ec2:DescribeLaunchTemplateVersions`` can read user data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from runtime.deploy import HEAD as INSTALLER_HEAD
from runtime.deploy import INSTALL_DIR, export_lines
from runtime.deploy import render_user_data as render_installer

#: Values written into the script must be plain tokens (ARNs, host names, numbers): nothing to escape.
_SAFE = re.compile(r"^[A-Za-z0-9_.:/@+=,*!-]*$")
#: Where the runtime writes its log (a systemd drop-in routes stdout/stderr there for the agent).
APP_LOG = "/var/log/stars/runtime.log"
UNIT = "stars-runtime.service"
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
    release_uri: str | None = None  # s3://bucket/releases/stars-runtime-<version>-<sha256>.tar
    release_sha256: str | None = None  # the artifact's digest; the installer refuses anything else
    database_port: int = 5432
    drain_seconds: int = 60
    #: The image family (``stars:image.os``). debian-12's boot is the one tested end to end (tests/boot);
    #: al2023 first installs python3.11 and the agent from its own repositories (in S3, so reachable
    #: through the S3 endpoint as well).
    os: str = "debian-12"
    extra_env: Mapping[str, str] = field(default_factory=dict)


#: The runtime's processes per server: the one export the server's sizing sets besides :func:`pool_env`'s.
WORKERS_ENV = "STARS_WORKERS"
#: What :func:`pool_env` exports (both or neither).
POOL_ENV = ("STARS_DB_POOL_SIZE", "STARS_DB_MAX_OVERFLOW")


def pool_env(db_pool_size: int | None) -> dict[str, str]:
    """The runtime's PostgreSQL pool per process as the plan sized it: exactly ``db_pool_size``
    connections (no overflow), so every process at max size stays within the database's max_connections.
    None: the runtime's own default."""
    if db_pool_size is None:
        return {}
    return {"STARS_DB_POOL_SIZE": str(int(db_pool_size)), "STARS_DB_MAX_OVERFLOW": "0"}


def _check(name: str, value: object) -> str:
    text = str(value)
    if not _SAFE.match(text):
        raise ValueError(f"user data value {name}={text!r} contains characters that need quoting")
    return text


def installer_script(spec: UserDataSpec) -> str:
    """The runtime's installer with this server's settings (release, region, endpoints, secret ARNs)."""
    return render_installer(
        region=_check("region", spec.region),
        release_uri=_check("release_uri", spec.release_uri) if spec.release_uri else None,
        release_sha256=_check("release_sha256", spec.release_sha256) if spec.release_sha256 else None,
        jwt_secret_arn=_check("signing_key_secret_arn", spec.signing_key_secret_arn),
        db_secret_arn=_check("database_secret_arn", spec.database_secret_arn),
        db_endpoint=_check("database_host", spec.database_host) + f":{int(spec.database_port)}",
        redis_endpoint=_check("redis_host", spec.redis_host) + f":{int(spec.redis_port)}",
        redis_auth_secret_arn=_check("redis_secret_arn", spec.redis_secret_arn),
        redis_tls=True,
        db_name=_check("database_name", spec.database_name),
        port=int(spec.app_port),
        workers=int(spec.workers),
        extra_env={
            "STARS_ROLE": _check("role", spec.role),
            **{k: _check(k, v) for k, v in spec.extra_env.items()},
        },
    )


def _agent_config(log_group: str) -> str:
    files = {
        "collect_list": [
            {"file_path": APP_LOG, "log_group_name": log_group, "log_stream_name": "{instance_id}"}
        ]
    }
    return json.dumps({"logs": {"logs_collected": {"files": files}}})


def agent_object(region: str) -> str:
    """The CloudWatch agent's Debian package in AWS's regional bucket (reached through the S3 endpoint)."""
    return f"s3://amazoncloudwatch-agent-{region}/debian/$ARCH/latest/amazon-cloudwatch-agent.deb"


def render_user_data(spec: UserDataSpec) -> str:
    """A cloud-init shell script: machine preparation, then the runtime's installer, under 16 KB.

    Without a release (none was built when the program ran) the installer refuses to boot, in one line."""
    region = _check("region", spec.region)
    log_group = _check("log_group", spec.log_group)
    installer = installer_script(spec)
    if _MARKER in installer:
        raise ValueError(f"the runtime's installer contains the marker {_MARKER}")
    if spec.os == "debian-12":  # the agent's package from AWS's regional bucket, through the S3 endpoint
        prepare = ""
        agent_install = (
            f'ARCH="$(dpkg --print-architecture)" && AWS_REGION={region} python3 {INSTALL_DIR}/awsget.py s3'
            f' "{agent_object(region)}" /opt/stars/cloudwatch-agent.deb'
            " && dpkg -i /opt/stars/cloudwatch-agent.deb >/dev/null"
        )
    elif spec.os == "al2023":
        prepare = "dnf install -y -q python3.11\n"
        agent_install = "dnf install -y -q amazon-cloudwatch-agent"
    else:
        raise ValueError(f"user data for image os {spec.os!r}: only debian-12 and al2023 are known")
    script = f"""#!/bin/bash
# STARS {spec.role} server ({spec.os}). No secret in here: the installer reads secrets by ARN with the
# instance role. Everything it installs comes from the release in the private bucket (no package index).
set -euo pipefail
mkdir -p /opt/stars /var/log/stars /etc/systemd/system/{UNIT}.d
exec > >(tee -a /var/log/stars/boot.log) 2>&1
{prepare}
# Logs to a file the CloudWatch agent ships; give connections time to drain on scale-in.
cat > /etc/systemd/system/{UNIT}.d/10-stars-platform.conf <<'UNIT'
[Service]
StandardOutput=append:{APP_LOG}
StandardError=append:{APP_LOG}
TimeoutStopSec={int(spec.drain_seconds) + 15}
UNIT

cat > /opt/stars/install.sh <<'{_MARKER}'
{installer.rstrip()}
{_MARKER}
sh /opt/stars/install.sh

# Log shipping, once the service runs. Not fatal: the runtime serves without it; its log stays in
# {APP_LOG}.
if {agent_install}; then
  cat > {AGENT_CONFIG} <<'AGENT'
{_agent_config(log_group)}
AGENT
  {AGENT_CTL} -a fetch-config -m ec2 -s -c file:{AGENT_CONFIG}
else
  echo "boot: warning: CloudWatch agent not installed; logs stay in {APP_LOG}" >&2
fi
"""
    return _within_limit(script)


def _within_limit(script: str) -> str:
    if len(script.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(
            f"user data is {len(script.encode())} bytes; EC2 accepts at most {MAX_USER_DATA_BYTES}"
        )
    return script


def resized(script: str, workers: int, db_pool_size: int | None) -> str:
    """``script`` (from :func:`render_user_data`) as it renders with ``workers`` and ``db_pool_size``, every
    other value kept: ``budget fit`` plans a server tier once per structure and writes each candidate's
    sizing into that plan (components.server_tier.value_inputs).

    The sizing is only in the installer's exports, where :func:`installer_script` puts it: ``STARS_WORKERS``
    among them, and the pool last, after ``STARS_ROLE``. A script not laid out so is refused, never
    guessed at; tests/infra/test_userdata.py holds the result equal to rendering anew."""
    head = f"<<'{_MARKER}'\n{INSTALLER_HEAD}"
    start = script.find(head)
    if start < 0:
        raise ValueError("not user data render_user_data wrote: no installer header")
    start += len(head)
    end, lines = start, []
    while script.startswith("export ", end):
        stop = script.index("\n", end) + 1
        lines.append(script[end:stop])
        end = stop
    keys = [line.removeprefix("export ").split("=", 1)[0] for line in lines]
    kept = [(k, line) for k, line in zip(keys, lines, strict=True) if k not in POOL_ENV]
    if (
        keys.count(WORKERS_ENV) != 1
        or not kept
        or kept[-1][0] != "STARS_ROLE"
        or keys[: len(kept)] != [k for k, _ in kept]
    ):
        raise ValueError(f"not user data render_user_data wrote: its exports are {keys}")
    sized = [export_lines({k: str(int(workers))}) if k == WORKERS_ENV else line for k, line in kept]
    return _within_limit(
        script[:start] + "".join(sized) + export_lines(pool_env(db_pool_size)) + script[end:]
    )
