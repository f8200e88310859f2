"""Read one S3 object or one Secrets Manager secret with the instance role, using the standard library only.

A server boots from the OS image alone (Debian 12: python3, no AWS CLI, no route to a package index), so
the installer cannot use boto3 before it has installed anything. This signs the two requests it needs
with Signature Version 4: credentials from the environment or IMDSv2, endpoints from the SDKs' own
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` / ``AWS_ENDPOINT_URL`` or the region's.
The user data carries this file; it never prints a credential, and a failure is one line and exit 1.

    python3 awsget.py s3 s3://bucket/key DEST     python3 awsget.py secret ARN   (value on stdout)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

#: The instance metadata service; the SDKs' own variable moves it (a test's stand-in).
IMDS = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/") + "/latest"
TIMEOUT = 20


class Failure(Exception):
    """One line for the log."""


def _open(req: urllib.request.Request) -> bytes:
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        return bytes(resp.read())


def credentials() -> tuple[str, str, str]:
    """(key id, secret, session token) from the environment, else the instance role via IMDSv2."""
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN", "")
    for attempt in range(10):  # the role's credentials can take a few seconds to appear at boot
        try:
            put = urllib.request.Request(
                f"{IMDS}/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}
            )
            headers = {"X-aws-ec2-metadata-token": _open(put).decode()}
            base = f"{IMDS}/meta-data/iam/security-credentials/"
            role = _open(urllib.request.Request(base, headers=headers)).decode().split()[0]
            doc = json.loads(_open(urllib.request.Request(base + role, headers=headers)))
            return doc["AccessKeyId"], doc["SecretAccessKey"], doc["Token"]
        except (OSError, ValueError, KeyError, IndexError) as exc:
            if attempt == 9:
                raise Failure(f"no instance role credentials from IMDSv2 ({exc})") from None
            time.sleep(2)
    raise AssertionError("unreachable")


def endpoint(service: str, region: str) -> str:
    env_name = {"s3": "AWS_ENDPOINT_URL_S3", "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER"}[service]
    found = os.environ.get(env_name) or os.environ.get("AWS_ENDPOINT_URL")
    return (found or f"https://{service}.{region}.amazonaws.com").rstrip("/")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed(
    method: str,
    url: str,
    service: str,
    region: str,
    body: bytes,
    headers: dict[str, str],
    creds: tuple[str, str, str] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """SigV4 headers for one request (the AWS IAM user guide, "Signature Version 4 for API requests")."""
    key_id, secret, token = creds or credentials()
    now = now or dt.datetime.now(dt.UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    parts = urllib.parse.urlsplit(url)
    payload = hashlib.sha256(body).hexdigest()
    all_headers = {**headers, "host": parts.netloc, "x-amz-date": stamp, "x-amz-content-sha256": payload}
    if token:
        all_headers["x-amz-security-token"] = token
    names = sorted(k.lower() for k in all_headers)
    lowered = {k.lower(): v.strip() for k, v in all_headers.items()}
    header_lines = [f"{n}:{lowered[n]}" for n in names]
    canonical = "\n".join(
        [method, parts.path or "/", parts.query, *header_lines, "", ";".join(names), payload]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={';'.join(names)},"
        f" Signature={signature}"
    )
    return {**all_headers, "Authorization": auth}


def _error(exc: urllib.error.HTTPError) -> str:
    """``HTTP 404 NoSuchKey``: the status and the service's error code (S3's XML or the JSON ``__type``)."""
    body = exc.read(4096).decode(errors="replace")
    found = re.search(r"<Code>([^<]{1,100})</Code>", body)
    code = found.group(1) if found else ""
    if not found:
        try:
            code = str(json.loads(body).get("__type", "")).split("#")[-1]
        except (ValueError, AttributeError):
            code = ""
    return f"HTTP {exc.code} {' '.join(code.split())[:100]}".strip()


def get_object(uri: str, dest: str, region: str) -> None:
    """Download s3://bucket/key to ``dest`` (through the VPC's S3 gateway endpoint on a server)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if (
        not uri.startswith("s3://")
        or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket)
        or not key
    ):
        raise Failure(f"not an s3://bucket/key URI: {uri[:200]!r}")
    base = endpoint("s3", region)
    try:
        path = "/" + urllib.parse.quote(key, safe="/-_.~")
    except UnicodeError:
        raise Failure(f"not an s3://bucket/key URI: {uri[:200]!r}") from None
    if base == f"https://s3.{region}.amazonaws.com":
        url = f"https://{bucket}.s3.{region}.amazonaws.com{path}"
    else:  # a custom endpoint (an emulator, a FIPS or private endpoint) is addressed path-style
        url = f"{base}/{bucket}{path}"
    req = urllib.request.Request(url, headers=signed("GET", url, "s3", region, b"", {}))
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp, open(dest, "wb") as out:
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise Failure(f"cannot read {uri}: {_error(exc)}") from None
    except OSError as exc:
        raise Failure(f"cannot read {uri}: {exc}") from None


def get_secret(arn: str, region: str) -> str:
    """The SecretString of one secret."""
    url = endpoint("secretsmanager", region) + "/"
    body = json.dumps({"SecretId": arn}).encode()
    headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": "secretsmanager.GetSecretValue"}
    req = urllib.request.Request(
        url, data=body, method="POST", headers=signed("POST", url, "secretsmanager", region, body, headers)
    )
    try:
        doc = json.loads(_open(req))
    except urllib.error.HTTPError as exc:
        raise Failure(f"cannot read secret {arn}: {_error(exc)}") from None
    except (OSError, ValueError) as exc:
        raise Failure(f"cannot read secret {arn}: {exc}") from None
    if not isinstance(doc.get("SecretString"), str):
        raise Failure(f"secret {arn} has no SecretString")
    return str(doc["SecretString"])


def main(argv: list[str]) -> int:
    region = os.environ.get("AWS_REGION", "")
    try:
        if not region:
            raise Failure("AWS_REGION is not set")
        if len(argv) == 3 and argv[0] == "s3":  # the digest is checked by the caller
            get_object(argv[1], argv[2], region)
        elif len(argv) == 2 and argv[0] == "secret":
            sys.stdout.write(get_secret(argv[1], region))
        else:
            raise Failure("usage: awsget.py s3 s3://bucket/key DEST | awsget.py secret ARN")
    except Failure as exc:
        print(f"awsget: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
