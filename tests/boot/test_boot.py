"""The servers' boot, run for real: the exact user data the program renders for phase 1's API servers
(under Pulumi mocks), on a Debian 12 root with systemd as PID 1 (systemd-nspawn), against a local AWS
(moto: the release in S3, the secrets in Secrets Manager, credentials from a stand-in IMDSv2), real
PostgreSQL, and real Redis behind TLS with its AUTH token, each on the port a server would use.

One boot is shared: the happy path (install, /readyz, a message through Redis and PostgreSQL, kill -9,
drain on stop) and the refusals (corrupt artifact, missing secret, unreachable database), each of which
puts back what it changed. The figures (boot to /readyz, restart) are printed and kept as properties.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import shlex
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import components.release
from bench.servers import postgres_server, redis_server
from components.config import ReleaseConfig, StackConfig
from components.planning.mocks import plan_resources
from runtime import protocol
from runtime.auth import issue
from runtime.deploy import release
from tests.boot.conftest import REGION, LocalAws, imds_server
from tests.boot.machine import CACHE, Machine, machine, unavailable
from tests.infra.conftest import stack_config
from tests.infra.helpers import named

pytestmark = [pytest.mark.services, pytest.mark.timeout(900)]

SKIP = unavailable()
if SKIP:
    pytest.skip(
        f"systemd cannot run as PID 1 here: {SKIP}; the fallback (the units under a supervisor honouring"
        " Restart=) is not implemented, so the boot is not run",
        allow_module_level=True,
    )

JWT_SECRET = "boot-test-signing-key-0123456789abcdefghijklmnop"
DB_SECRET = {"username": "postgres", "password": "p@ss w/rd%"}  # trust auth: checked for quoting only
REDIS_TOKEN = "redis-auth-token-0123456789"
PORTS = {"aws": 4566, "imds": 1338, "database": 5432, "cache": 6379, "app": 8000}
HARNESS = "stars-user-data.service"  # what cloud-init's final stage is on EC2: run the user data once
UNIT = "stars-runtime.service"


@dataclass
class Boot:
    """The booted server and everything it talks to."""

    box: Machine
    aws: LocalAws
    env: dict[str, str]
    bucket: str
    key: str
    artifact: bytes
    db_url: str
    redis: redis.Redis
    app_port: int
    figures: dict[str, float] = field(default_factory=dict)

    def http(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.app_port}{path}", timeout=3) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def ready(self) -> bool:
        try:
            return self.http("/readyz")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.ready():
                return time.monotonic() - started
            time.sleep(0.1)
        runtime_log = self.box.root / "var/log/stars/runtime.log"
        tail = runtime_log.read_text(errors="replace")[-4000:] if runtime_log.exists() else "(none)"
        raise AssertionError(
            f"/readyz did not answer 200 within {timeout} s\n{self.log()}\nruntime log:\n{tail}"
        )

    def log(self) -> str:
        path = self.box.root / "var/log/stars/boot.log"
        return path.read_text(errors="replace") if path.exists() else "(no boot log)"

    def user_data(self) -> subprocess.CompletedProcess[str]:
        """Run the user data once more from a clean slate, as a new instance would."""
        self.box.run("systemctl", "disable", "--now", UNIT, check=False)
        self.box.run("rm", "-rf", "/opt/stars/venv", "/etc/stars", f"/etc/systemd/system/{UNIT}")
        self.box.run("systemctl", "daemon-reload")
        (self.box.root / "var/log/stars/boot.log").unlink(missing_ok=True)
        self.box.run("systemctl", "stop", HARNESS, check=False)
        self.box.run("systemctl", "reset-failed", check=False)
        return self.box.run("systemctl", "start", HARNESS, check=False, timeout=300)


def _tls_for(host: str, workdir: Path) -> tuple[bytes, ssl.SSLContext]:
    """A throw-away CA (PEM, for the machine's trust store) and a server context for ``host``."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "STARS boot test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (workdir / "cache.crt").write_bytes(cert.public_bytes(pem))
    (workdir / "cache.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(workdir / "cache.crt", workdir / "cache.key")
    return ca.public_bytes(pem), context


def _exports(script: str) -> dict[str, str]:
    """The ``export K=V`` lines of the runtime's installer, as the shell reads them."""
    values = {}
    for line in script.splitlines():
        if line.startswith("export "):
            key, _, raw = line.removeprefix("export ").partition("=")
            values[key] = shlex.split(raw)[0]
    return values


def _rendered(project: Path) -> tuple[str, str, str]:
    """Phase 1's API user data under Pulumi mocks, with the artifact in ``project``; bucket and key."""
    cfg = stack_config("phase1").model_dump()
    cfg["release"] = ReleaseConfig(
        artifact=f"dist/{release.NAME}-{release.project_version()}.tar"
    ).model_dump()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(components.release, "PROJECT_DIR", project)
        resources = plan_resources(StackConfig.model_validate(cfg))
    script = base64.b64decode(named(resources, "api-lt").inputs["userData"]).decode()
    return (
        script,
        named(resources, "cdn-bucket").state["bucket"],
        named(resources, "cdn-release").inputs["key"],
    )


def _prepare(root: Path, script: str, hosts: list[str], ca: bytes) -> None:
    """What the EC2 world gives a server: DNS names for the endpoints, their CA (public CAs on EC2),
    and cloud-init running the user data once with the instance's environment."""
    with (root / "etc/hosts").open("a") as f:
        f.write(f"127.0.0.1 {' '.join(hosts)}\n")
    (root / "usr/local/share/ca-certificates/stars-boot-test.crt").write_bytes(ca)
    subprocess.run(["chroot", str(root), "update-ca-certificates"], check=True, capture_output=True)
    (root / "var/lib/cloud").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/cloud/user-data").write_text(script)
    (root / "var/lib/cloud/user-data").chmod(0o700)
    (root / f"etc/systemd/system/{HARNESS}").write_text(
        "[Unit]\nDescription=EC2 user data (cloud-init's part)\n"
        # as Debian's cloud-final.service runs it: oneshot, remains active, leaves its children alone
        "[Service]\nType=oneshot\nRemainAfterExit=yes\nKillMode=process\nExecStart=/var/lib/cloud/user-data\n"
        "TimeoutStartSec=300\n"
        f"Environment=AWS_ENDPOINT_URL=http://127.0.0.1:{PORTS['aws']}\n"
        f"Environment=AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:{PORTS['imds']}\n"
    )


@pytest.fixture(scope="module")
def boot(tmp_path_factory: pytest.TempPathFactory, local_aws: LocalAws) -> Iterator[Boot]:
    work = tmp_path_factory.mktemp("boot")
    project = work / "project"
    built = release.build(out=project / "dist", cache=CACHE / "wheelhouse")
    script, bucket, key = _rendered(project)
    env = _exports(script)
    assert env["STARS_RELEASE_SHA256"] == built.sha256 and key.endswith(f"-{built.sha256}.tar")
    s3, sm = local_aws.client("s3"), local_aws.client("secretsmanager")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    artifact = built.path.read_bytes()
    s3.put_object(Bucket=bucket, Key=key, Body=artifact)
    for name, value in (
        ("STARS_JWT_SECRET_ARN", JWT_SECRET),
        ("STARS_DB_SECRET_ARN", json.dumps(DB_SECRET)),
        ("STARS_REDIS_AUTH_SECRET_ARN", REDIS_TOKEN),
    ):  # named by the resource part of the ARN the user data carries (a partial ARN finds it)
        sm.create_secret(Name=env[name].split(":secret:", 1)[1], SecretString=value)
    db_host, cache_host = env["STARS_DB_ENDPOINT"].split(":")[0], env["STARS_REDIS_ENDPOINT"].split(":")[0]
    ca, tls = _tls_for(cache_host, work)
    with (
        postgres_server() as pg,
        redis_server() as cache,
        imds_server() as imds,
        machine(work / "machine", lambda root: _prepare(root, script, [db_host, cache_host], ca)) as box,
    ):
        db_url = pg.create_database(env["STARS_DB_NAME"])
        client = redis.Redis(port=cache.port)
        client.config_set("requirepass", REDIS_TOKEN)
        client = redis.Redis(port=cache.port, password=REDIS_TOKEN)
        assert box.bridges is not None
        aws_port, imds_port = int(local_aws.url.rsplit(":", 1)[1]), int(imds.rsplit(":", 1)[1])
        box.bridges.inbound("aws", PORTS["aws"], ("127.0.0.1", aws_port))
        box.bridges.inbound("imds", PORTS["imds"], ("127.0.0.1", imds_port))
        box.bridges.inbound("database", PORTS["database"], ("127.0.0.1", pg.port))
        box.bridges.inbound("cache", PORTS["cache"], ("127.0.0.1", cache.port), tls=tls)
        app_port = box.bridges.outbound("app", PORTS["app"])
        state = Boot(box, local_aws, env, bucket, key, artifact, db_url, client, app_port)
        state.figures["machine boot to multi-user.target (s)"] = box.boot_seconds
        yield state
        print("\nboot figures: " + ", ".join(f"{k} {v:.1f}" for k, v in state.figures.items()))


def _bootstrap_errors(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if ln.startswith("bootstrap: error:")]


def test_the_user_data_installs_serves_restarts_and_drains(
    boot: Boot, record_property: Callable[[str, object], None]
) -> None:
    box = boot.box
    started = time.monotonic()
    run = boot.user_data()
    assert run.returncode == 0, boot.log()
    boot.figures["user data to /readyz 200 (s)"] = time.monotonic() - started + boot.wait_ready(30)
    assert box.unit(HARNESS, "Result") == "success"
    assert box.unit(UNIT, "ActiveState") == "active" and box.unit(UNIT, "UnitFileState") == "enabled"
    assert boot.http("/readyz") == (200, {"status": "ready", "database": True, "broker": True})
    assert _bootstrap_errors(boot.log()) == []
    assert "CloudWatch agent not installed" in boot.log()  # its bucket is not in the local AWS: a warning
    env_file = box.run("stat", "-c", "%a %U:%G", "/etc/stars/runtime.env").stdout.split()
    assert env_file == ["640", "root:stars"]
    assert box.unit(UNIT, "User") == "stars"
    assert JWT_SECRET not in (box.root / "var/lib/cloud/user-data").read_text()

    # A message: published on one socket, acknowledged once stored in PostgreSQL, delivered through Redis.
    url = f"ws://127.0.0.1:{boot.app_port}/ws?token="
    reader_token = issue(JWT_SECRET, "reader", ["room:*"], [], 600)
    writer_token = issue(JWT_SECRET, "writer", [], ["room:*"], 600)
    with connect(url + reader_token, open_timeout=10) as reader, connect(url + writer_token) as writer:
        reader.send(json.dumps({"type": "subscribe", "channel": "room:boot"}))
        assert json.loads(reader.recv(timeout=10))["type"] == "subscribed"
        channels = cast(list[bytes], boot.redis.pubsub_channels())  # redis-py types replies sync or async
        assert b"room:boot" in b" ".join(channels)  # the subscription is in Redis
        writer.send(json.dumps({"type": "publish", "channel": "room:boot", "data": "hello", "id": "m1"}))
        ack = json.loads(writer.recv(timeout=10))
        got = json.loads(reader.recv(timeout=10))
    assert ack["type"] == "ack" and ack["id"] == "m1"
    assert (got["type"], got["channel"], got["data"], got["offset"]) == (
        "message",
        "room:boot",
        "hello",
        ack["offset"],
    )
    rows = subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            boot.db_url,
            "-tAc",
            "SELECT channel, data FROM messages",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert rows == ['room:boot|"hello"']

    # kill -9 of the server process: systemd starts a new one (Restart=always, RestartSec=2) within
    # 10 s, and it serves again within the 30 s the first start is given. Importing the app on a loaded
    # machine can alone take several seconds, so readiness is not held to systemd's bound.
    pid, restarts = box.unit(UNIT, "MainPID"), int(box.unit(UNIT, "NRestarts"))
    killed = time.monotonic()
    box.run("sh", "-c", f"kill -9 {int(pid)}")
    while box.unit(UNIT, "MainPID") in (pid, "0"):
        assert time.monotonic() - killed < 10, f"no new process 10 s after kill -9\n{boot.log()}"
        time.sleep(0.1)
    boot.figures["kill -9 to a new MainPID (s)"] = time.monotonic() - killed
    boot.wait_ready(30)
    boot.figures["kill -9 to /readyz 200 again (s)"] = time.monotonic() - killed
    assert int(box.unit(UNIT, "NRestarts")) == restarts + 1

    # systemctl stop drains: /readyz says 503 while open sockets are closed with the documented code.
    with connect(url + reader_token, open_timeout=10) as client:
        client.send(json.dumps({"type": "subscribe", "channel": "room:boot"}))
        assert json.loads(client.recv(timeout=10))["type"] == "subscribed"
        box.run("systemctl", "stop", "--no-block", UNIT)
        statuses, code = [], None
        deadline = time.monotonic() + 15
        while code is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                statuses.append(boot.http("/readyz")[0])
            try:
                client.recv(timeout=0.05)
            except TimeoutError:
                pass
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else -1
    assert 503 in statuses and code == protocol.GOING_AWAY.code == 1001, (statuses, code)
    deadline = time.monotonic() + 20
    while box.unit(UNIT, "ActiveState") != "inactive":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert not boot.ready()
    for name, value in boot.figures.items():
        record_property(name, round(value, 2))


@pytest.mark.parametrize("fault", ["corrupt artifact", "missing secret", "unreachable database"])
def test_a_bad_boot_is_one_line_a_failed_installer_and_nothing_serving(boot: Boot, fault: str) -> None:
    s3, sm = boot.aws.client("s3"), boot.aws.client("secretsmanager")
    jwt_name = boot.env["STARS_JWT_SECRET_ARN"].split(":secret:", 1)[1]
    expected = {
        "corrupt artifact": f"release digest mismatch: expected {boot.env['STARS_RELEASE_SHA256']}, got ",
        "missing secret": f"cannot read secret {boot.env['STARS_JWT_SECRET_ARN']}: HTTP 4",
        "unreachable database": f"database {boot.env['STARS_DB_ENDPOINT']} unreachable: ConnectionRefused",
    }[fault]
    if fault == "corrupt artifact":
        s3.put_object(Bucket=boot.bucket, Key=boot.key, Body=boot.artifact[:-1] + b"x")
    elif fault == "missing secret":
        sm.delete_secret(SecretId=jwt_name, ForceDeleteWithoutRecovery=True)
    else:
        assert boot.box.bridges is not None
        boot.box.bridges.close("database")
    try:
        run = boot.user_data()
        log = boot.log()
        assert run.returncode != 0 and boot.box.unit(HARNESS, "Result") == "exit-code", log
        assert boot.box.unit(HARNESS, "ExecMainStatus") != "0"
        errors = _bootstrap_errors(log)
        assert len(errors) == 1 and expected in errors[0], log
        assert "Traceback" not in log
        assert boot.box.unit(UNIT, "ActiveState") == "inactive" and not boot.ready()
        assert boot.box.run("test", "-e", "/etc/stars/runtime.env", check=False).returncode != 0
    finally:
        if fault == "corrupt artifact":
            s3.put_object(Bucket=boot.bucket, Key=boot.key, Body=boot.artifact)
        elif fault == "missing secret":
            sm.create_secret(Name=jwt_name, SecretString=JWT_SECRET)
        else:
            pg_port = int(boot.db_url.rsplit(":", 1)[1].split("/")[0])
            boot.box.bridges.inbound("database", PORTS["database"], ("127.0.0.1", pg_port))  # type: ignore[union-attr]  # asserted set above
