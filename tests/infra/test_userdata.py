"""The user data script: systemd service, secrets by ARN only, and no value that could break out."""

from __future__ import annotations

import re

import pytest

from components.userdata import UserDataSpec, render_user_data

SPEC = UserDataSpec(
    role="realtime",
    region="af-south-1",
    app_port=8000,
    workers=2,
    log_group="/stars/phase1/realtime",
    database_host="db.example.internal",
    database_name="stars",
    database_secret_arn="arn:aws:secretsmanager:af-south-1:123456789012:secret:rds!db-1-AbC",
    redis_host="master.cache.example.internal",
    redis_port=6379,
    redis_secret_arn="arn:aws:secretsmanager:af-south-1:123456789012:secret:cache-AbC",
    signing_key_secret_arn="arn:aws:secretsmanager:af-south-1:123456789012:secret:jwt-AbC",
    release_uri="s3://bucket/releases/stars-runtime.tar.gz",
)


def test_runs_under_systemd_with_workers_and_arns() -> None:
    script = render_user_data(SPEC)
    assert script.startswith("#!/bin/bash")
    assert 'sh "$SRC/runtime/deploy/bootstrap.sh"' in script
    assert "export STARS_WORKERS=2" in script and "export STARS_PORT=8000" in script
    assert "export STARS_DB_SECRET_ARN=arn:aws:secretsmanager:" in script
    assert "export STARS_DB_ENDPOINT=db.example.internal:5432" in script
    assert "export STARS_REDIS_TLS=1" in script
    assert "aws s3 cp --region af-south-1 s3://bucket/releases/stars-runtime.tar.gz" in script
    assert "TimeoutStopSec=75" in script
    assert "amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:" in script
    assert '"log_group_name": "/stars/phase1/realtime"' in script


def test_without_release_it_says_so() -> None:
    script = render_user_data(UserDataSpec(**{**SPEC.__dict__, "release_uri": None}))
    assert "aws s3 cp" not in script and "baked into /opt/stars/src" in script


def test_installer_reads_what_we_export() -> None:
    """Every variable the runtime's installer requires is exported (names from its header)."""
    from pathlib import Path

    installer = Path(__file__).resolve().parents[2] / "runtime" / "deploy" / "bootstrap.sh"
    if not installer.exists():
        pytest.skip("runtime/deploy/bootstrap.sh is not in this checkout")
    required = re.findall(r"^need (\w+)", installer.read_text(encoding="utf-8"), flags=re.M)
    assert required, "the installer declares no required variables any more"
    script = render_user_data(SPEC)
    for name in required:
        assert f"export {name}=" in script, name


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("database_host", "STARS_DB_ENDPOINT"),
        ("redis_secret_arn", "STARS_REDIS_AUTH_SECRET_ARN"),
        ("log_group", "log_group"),
        ("release_uri", "release_uri"),
    ],
)
def test_values_that_need_quoting_are_refused(field: str, named: str) -> None:
    spec = UserDataSpec(**{**SPEC.__dict__, field: "x\nexport EVIL=1"})
    with pytest.raises(ValueError, match=named):
        render_user_data(spec)
