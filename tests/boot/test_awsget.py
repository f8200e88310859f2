"""The installer's standard-library AWS reader: the same signature as botocore's, objects and secrets
from a local AWS (moto), IMDSv2 credentials, and one line for every failure."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import subprocess
import sys
import urllib.error
from email.message import Message
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.deploy import AWSGET, awsget
from tests.boot.conftest import REGION, LocalAws

CREDS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


@pytest.mark.parametrize(
    ("method", "url", "service", "body", "headers"),
    [
        (
            "GET",
            "https://bucket-1.s3.af-south-1.amazonaws.com/releases/stars-runtime-0.1.0-ab.tar",
            "s3",
            b"",
            {},
        ),
        (
            "POST",
            "https://secretsmanager.af-south-1.amazonaws.com/",
            "secretsmanager",
            b'{"SecretId": "arn:aws:secretsmanager:af-south-1:1:secret:x"}',
            {"content-type": "application/x-amz-json-1.1", "x-amz-target": "secretsmanager.GetSecretValue"},
        ),
    ],
)
def test_signature_is_botocores(
    method: str, url: str, service: str, body: bytes, headers: dict[str, str]
) -> None:
    payload = hashlib.sha256(body).hexdigest()
    request = AWSRequest(
        method=method, url=url, data=body, headers={**headers, "x-amz-content-sha256": payload}
    )
    SigV4Auth(Credentials(*CREDS), service, REGION).add_auth(request)
    when = dt.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    ours = awsget.signed(method, url, service, REGION, body, headers, creds=CREDS, now=when)
    assert ours["Authorization"] == request.headers["Authorization"]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, str(AWSGET), *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def assets(local_aws: LocalAws) -> LocalAws:
    """The local AWS with the private bucket created."""
    local_aws.client("s3").create_bucket(
        Bucket="stars-assets", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return local_aws


def test_reads_an_object_and_a_secret(assets: LocalAws, tmp_path: Path) -> None:
    local_aws = assets
    s3, sm = local_aws.client("s3"), local_aws.client("secretsmanager")
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one read block
    s3.put_object(Bucket="stars-assets", Key="releases/stars-runtime-0.1.0-x.tar", Body=data)
    arn = sm.create_secret(Name="stars/t/jwt", SecretString='a "quoted" $value')["ARN"]
    got = _run(
        local_aws.env, "s3", "s3://stars-assets/releases/stars-runtime-0.1.0-x.tar", str(tmp_path / "r")
    )
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "r").read_bytes() == data
    secret = _run(local_aws.env, "secret", arn)
    assert (secret.returncode, secret.stdout) == (0, 'a "quoted" $value')


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["s3", "s3://stars-assets/releases/missing.tar", "out"],
            "cannot read s3://stars-assets/releases/missing.tar: HTTP 404 NoSuchKey",
        ),
        (
            ["secret", "arn:aws:secretsmanager:af-south-1:123456789012:secret:nope"],
            "ResourceNotFoundException",
        ),
        (["s3", "https://example.org/x", "out"], "not an s3://bucket/key URI"),
        (["s3", "s3://Bad_Bucket/x", "out"], "not an s3://bucket/key URI"),
        (["list"], "usage: awsget.py"),
    ],
)
def test_each_failure_is_one_line(assets: LocalAws, tmp_path: Path, args: list[str], line: str) -> None:
    run = _run(assets.env, *[str(tmp_path / a) if a == "out" else a for a in args])
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("awsget: ") and line in run.stderr, (
        run.stderr
    )


def test_an_unreachable_endpoint_is_one_line(tmp_path: Path) -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
    }
    run = _run(env, "secret", "arn:x")
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "cannot read secret arn:x" in run.stderr


def test_instance_role_credentials_come_from_imdsv2(imds: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(awsget, "IMDS", f"{imds}/latest")
    assert awsget.credentials() == ("ASIAROLE", "role-secret", "role-token")


def _http_error(status: int, body: bytes) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("https://x", status, "error", Message(), io.BytesIO(body))


@settings(max_examples=200, deadline=None)
@given(status=st.integers(400, 599), body=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_any_error_body_is_one_short_line(status: int, body: bytes) -> None:
    """What a service (or anything in between) answers is outside input: never a traceback, one line."""
    text = awsget._error(_http_error(status, body))
    assert text.startswith(f"HTTP {status}") and "\n" not in text and len(text) <= 109


@settings(max_examples=200, deadline=None)
@given(uri=st.text(max_size=300))
def test_any_uri_is_refused_or_fetched_as_bucket_and_key(
    uri: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
    }
    try:
        os.environ.update(env)
        awsget.get_object(uri, str(tmp_path_factory.mktemp("o") / "x"), REGION)
    except awsget.Failure as exc:
        assert "\n" not in str(exc)
    finally:
        for name in env:
            os.environ.pop(name, None)
