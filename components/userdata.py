"""User data for the API and realtime servers: install the runtime and run it under systemd.

The script carries only non-secret values (region, endpoints, secret ARNs). Secrets are fetched by ARN
from Secrets Manager when the service starts, into a root-only file under /run (tmpfs, never on disk
and never in the launch template, which anyone with ``ec2:DescribeLaunchTemplateVersions`` can read).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Values written into the script must be plain tokens (ARNs, host names, numbers): nothing to escape.
_SAFE = re.compile(r"^[A-Za-z0-9_.:/@+=,*!-]*$")


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
    database_secret_arn: str
    redis_host: str
    redis_port: int
    redis_secret_arn: str
    signing_key_secret_arn: str
    release_uri: str | None = None  # s3://bucket/key of the runtime release (a wheel or sdist)
    app: str = "runtime.app:app"
    drain_seconds: int = 60
    extra_env: Mapping[str, str] = field(default_factory=dict)


#: Runs as root before the service starts (``ExecStartPre=+``): secrets by ARN -> a tmpfs file for ``stars``.
SECRETS_SCRIPT = r"""#!/opt/stars/venv/bin/python
# Reads the secrets by ARN and writes the runtime's connection settings to a root-only tmpfs file.
import json, os, pwd, shlex, subprocess, urllib.parse

def secret(arn):
    out = subprocess.run(["aws", "secretsmanager", "get-secret-value", "--secret-id", arn,
                          "--query", "SecretString", "--output", "text"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)

db = secret(os.environ["STARS_DATABASE_SECRET_ARN"])
redis = secret(os.environ["STARS_REDIS_SECRET_ARN"])
key = secret(os.environ["STARS_SIGNING_KEY_SECRET_ARN"])
q = urllib.parse.quote
values = {
    "STARS_DATABASE_URL": "postgresql+asyncpg://%s:%s@%s:5432/%s?ssl=require" % (
        q(db["username"], safe=""), q(db["password"], safe=""), os.environ["STARS_DATABASE_HOST"],
        os.environ["STARS_DATABASE_NAME"]),
    "STARS_REDIS_URL": "rediss://:%s@%s:%s/0" % (
        q(redis["auth_token"], safe=""), os.environ["STARS_REDIS_HOST"], os.environ["STARS_REDIS_PORT"]),
    "STARS_JWT_SECRET": key["secret"],
}
lines = ["export %s=%s" % (k, shlex.quote(v)) for k, v in values.items()]
user = pwd.getpwnam("stars")
os.makedirs("/run/stars", mode=0o700, exist_ok=True)
os.chown("/run/stars", user.pw_uid, user.pw_gid)
fd = os.open("/run/stars/secrets.env", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.fchown(fd, user.pw_uid, user.pw_gid)
with os.fdopen(fd, "w") as f:
    f.write("\n".join(lines) + "\n")
"""


def _check(name: str, value: object) -> str:
    text = str(value)
    if not _SAFE.match(text):
        raise ValueError(f"user data value {name}={text!r} contains characters that need quoting")
    return text


def render_user_data(spec: UserDataSpec) -> str:
    """A cloud-init shell script; every value is validated so none can break out of its line."""
    env = {
        "STARS_ROLE": spec.role,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "STARS_PORT": spec.app_port,
        "STARS_WORKERS": spec.workers,
        "STARS_DATABASE_HOST": spec.database_host,
        "STARS_DATABASE_NAME": spec.database_name,
        "STARS_DATABASE_SECRET_ARN": spec.database_secret_arn,
        "STARS_REDIS_HOST": spec.redis_host,
        "STARS_REDIS_PORT": spec.redis_port,
        "STARS_REDIS_SECRET_ARN": spec.redis_secret_arn,
        "STARS_SIGNING_KEY_SECRET_ARN": spec.signing_key_secret_arn,
        "STARS_DRAIN_TIMEOUT": spec.drain_seconds,
        **spec.extra_env,
    }
    env_lines = "\n".join(f"{_check('key', k)}={_check(k, v)}" for k, v in env.items())
    app = _check("app", spec.app)
    log_group = _check("log_group", spec.log_group)
    agent = json.dumps(
        {
            "logs": {
                "logs_collected": {
                    "files": {
                        "collect_list": [
                            {
                                "file_path": "/var/log/stars/app.log",
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
        install = (
            f"aws s3 cp {_check('release_uri', spec.release_uri)} /opt/stars/release/\n"
            "/opt/stars/venv/bin/pip install /opt/stars/release/*"
        )
    else:
        install = 'echo "no release configured: the runtime must be baked into the image" >&2'
    return f"""#!/bin/bash
# STARS {spec.role} server. Contains no secret: secrets are read by ARN when the service starts.
set -euo pipefail
dnf install -y python3.11 python3.11-pip amazon-cloudwatch-agent
id stars >/dev/null 2>&1 || useradd --system --home-dir /opt/stars --shell /sbin/nologin stars
mkdir -p /opt/stars/release /opt/stars/bin /etc/stars /var/log/stars
chown stars:stars /var/log/stars
python3.11 -m venv /opt/stars/venv
{install}

cat > /etc/stars/stars.env <<'ENV'
{env_lines}
ENV

cat > /opt/stars/bin/stars-secrets <<'SCRIPT'
{SECRETS_SCRIPT}SCRIPT
chmod 0700 /opt/stars/bin/stars-secrets

cat > /etc/systemd/system/stars.service <<'UNIT'
[Unit]
Description=STARS {spec.role} runtime
After=network-online.target
Wants=network-online.target

[Service]
User=stars
EnvironmentFile=/etc/stars/stars.env
ExecStartPre=+/opt/stars/bin/stars-secrets
ExecStart=/bin/sh -c '. /run/stars/secrets.env && exec /opt/stars/venv/bin/uvicorn {app} \\
    --host 0.0.0.0 --port {spec.app_port} --workers {spec.workers} --loop uvloop --http httptools \\
    --ws-per-message-deflate false'
KillSignal=SIGTERM
TimeoutStopSec={spec.drain_seconds + 15}
Restart=always
RestartSec=2
LimitNOFILE=65536
StandardOutput=append:/var/log/stars/app.log
StandardError=append:/var/log/stars/app.log
NoNewPrivileges=true
ProtectSystem=strict
ReadWritePaths=/var/log/stars

[Install]
WantedBy=multi-user.target
UNIT

cat > /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json <<'AGENT'
{agent}
AGENT

systemctl daemon-reload
systemctl enable --now amazon-cloudwatch-agent
systemctl enable --now stars.service
"""
