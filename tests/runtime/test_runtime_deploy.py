"""The EC2 start-up path, run locally: user data -> bootstrap.sh -> env file -> a serving runtime."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.deploy import UNIT, render_user_data
from tests.runtime.helpers import ROOT, RuntimeServer, token
from tests.servers import free_port

SECRETS = {
    "arn:aws:secretsmanager:af-south-1:1:secret:jwt": 'jwt-secret-with-"quotes"-and-\\-0123456789abcdef',
    "arn:aws:secretsmanager:af-south-1:1:secret:rds": json.dumps(
        {"username": "postgres", "password": "p@ss w/rd%"}
    ),
    "arn:aws:secretsmanager:af-south-1:1:secret:redis": "",
}


def parse_env_file(path: Path) -> dict[str, str]:
    """systemd EnvironmentFile lines of the form KEY="value" with \\ and \" escaped."""
    values = {}
    for line in path.read_text().splitlines():
        key, _, raw = line.partition("=")
        assert raw.startswith('"') and raw.endswith('"'), line
        values[key] = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return values


@pytest.fixture
def fake_aws(tmp_path: Path) -> Path:
    """An ``aws`` on PATH that answers ``secretsmanager get-secret-value`` from SECRETS."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "secrets.json").write_text(json.dumps(SECRETS))
    aws = bin_dir / "aws"
    aws.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        "assert args[:2] == ['secretsmanager', 'get-secret-value'], args\n"
        "assert args[args.index('--region') + 1] == 'af-south-1'\n"
        f"secrets = json.load(open({str(tmp_path / 'secrets.json')!r}))\n"
        "print(secrets[args[args.index('--secret-id') + 1]])\n"
    )
    aws.chmod(0o755)
    return bin_dir


def test_user_data_carries_no_secret_and_is_valid_shell() -> None:
    data = render_user_data(
        region="af-south-1",
        jwt_secret_arn="arn:jwt",
        db_secret_arn="arn:rds",
        db_endpoint="db.internal:5432",
        redis_endpoint="cache.internal:6379",
        redis_auth_secret_arn="arn:redis",
        release_url="https://releases.invalid/stars.tar.gz",
    )
    assert data.startswith("#!/bin/sh\n") and len(data.encode()) < 16384  # EC2 user data limit
    assert "export STARS_DB_SECRET_ARN=arn:rds" in data
    assert "STARS_JWT_SECRET=" not in data and "STARS_DATABASE_URL=" not in data  # only ARNs travel
    subprocess.run(["sh", "-n"], input=data, text=True, check=True)
    unit = UNIT.read_text()
    assert "EnvironmentFile=/etc/stars/runtime.env" in unit and "KillSignal=SIGTERM" in unit
    with pytest.raises(ValueError):
        render_user_data(
            region="r", jwt_secret_arn="a", db_secret_arn="b", db_endpoint="c", redis_endpoint="d"
        )


@pytest.mark.services
def test_bootstrap_locally_then_serve_from_the_written_env_file(
    tmp_path: Path, fake_aws: Path, redis, database_url: str
) -> None:
    root = tmp_path / "root"
    db_host_port, db_name = database_url.split("@", 1)[1].split("/", 1)
    port = free_port()
    data = render_user_data(
        region="af-south-1",
        jwt_secret_arn="arn:aws:secretsmanager:af-south-1:1:secret:jwt",
        db_secret_arn="arn:aws:secretsmanager:af-south-1:1:secret:rds",
        db_endpoint=db_host_port,
        db_name=db_name,
        redis_endpoint=redis.url.split("//", 1)[1].rsplit("/", 1)[0],
        redis_auth_secret_arn="arn:aws:secretsmanager:af-south-1:1:secret:redis",
        redis_tls=False,
        source_dir=str(ROOT),
        port=port,
        workers=2,
        extra_env={
            "STARS_BOOTSTRAP_ROOT": str(root),
            "STARS_VENV": str(Path(sys.executable).parent.parent),
            "STARS_HOST": "127.0.0.1",
        },
    )
    env = {"PATH": f"{fake_aws}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    run = subprocess.run(["sh"], input=data, text=True, env=env, capture_output=True, timeout=180)
    assert run.returncode == 0, run.stderr
    env_file = root / "etc/stars/runtime.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = parse_env_file(env_file)
    assert values["STARS_JWT_SECRET"] == SECRETS["arn:aws:secretsmanager:af-south-1:1:secret:jwt"]
    assert (
        values["STARS_DATABASE_URL"] == f"postgresql://postgres:p%40ss%20w%2Frd%25@{db_host_port}/{db_name}"
    )
    assert values["STARS_REDIS_URL"] == redis.url
    assert (values["STARS_PORT"], values["STARS_WORKERS"]) == (str(port), "2")
    assert (root / "opt/stars/app/runtime/__main__.py").exists()
    unit = (root / "etc/systemd/system/stars-runtime.service").read_text()
    assert f"EnvironmentFile={root}/etc/stars/runtime.env" in unit
    # the JavaScript client the runtime serves at /client/stars.js is installed beside it
    assert (root / "opt/stars/app/clients/js/stars.js").is_file()

    # start the installed copy exactly as the unit does, from the written settings
    server = RuntimeServer(values, workers=int(values["STARS_WORKERS"]), cwd=root / "var/lib/stars")
    server.port = int(values["STARS_PORT"])
    server.start()
    try:
        status, body = server.get("/readyz")
        assert (status, body) == (200, {"status": "ready", "database": True, "broker": True})
        tok = token(secret=values["STARS_JWT_SECRET"])
        assert server.post("/api/channels/room:deploy/messages", {"data": "up"}, token=tok)[0] == 201
    finally:
        server.stop()
