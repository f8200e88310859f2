"""A local AWS (moto's server mode: S3 and Secrets Manager) for the boot tests."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from bench.servers import free_port

REGION = "af-south-1"
#: moto accepts any credentials; these are not AWS's.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "t"}


@dataclass
class LocalAws:
    """One moto server on loopback and clients bound to it."""

    url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    @property
    def env(self) -> dict[str, str]:
        """What an installer needs to talk to it instead of AWS (the SDKs' own variable names)."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_REGION": REGION, **CREDENTIALS}


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield LocalAws(url=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


class Imds(http.server.BaseHTTPRequestHandler):
    """IMDSv2: a session token first (PUT), then the role's credentials only with that token."""

    token = "imds-token"

    def do_PUT(self) -> None:
        ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self._answer(200 if ok else 403, self.token)

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != self.token:
            return self._answer(401, "")
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self._answer(200, "stars-api-role\n")
        if self.path == base + "stars-api-role":
            doc = {"AccessKeyId": "ASIAROLE", "SecretAccessKey": "role-secret", "Token": "role-token"}
            return self._answer(200, json.dumps(doc))
        return self._answer(404, "")

    def _answer(self, status: int, body: str) -> None:
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def imds_server() -> Iterator[str]:
    """A stand-in for the instance metadata service on loopback; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Imds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture
def imds() -> Iterator[str]:
    with imds_server() as url:
        yield url
