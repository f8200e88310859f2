"""A local AWS (moto's server mode: S3 and Secrets Manager) for the boot tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.servers import free_port

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
