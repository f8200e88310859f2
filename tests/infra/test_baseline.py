"""The security baseline holds on every phase, and each check reports a deliberately broken resource."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import pytest

from components.planning.baseline import CHECKS, SEVERITY, violations
from components.planning.mocks import Plan, RecordedResource
from tests.infra.conftest import planned
from tests.infra.helpers import mutated, named, of_type


def test_baseline_holds(stack_plan: Plan) -> None:
    assert violations(stack_plan.resources) == []


def _set(key: str, value: object) -> Callable[[RecordedResource], None]:
    def change(r: RecordedResource) -> None:
        r.inputs[key] = value

    return change


def _del(key: str) -> Callable[[RecordedResource], None]:
    def change(r: RecordedResource) -> None:
        r.inputs.pop(key, None)

    return change


def _user_data(extra: str) -> Callable[[RecordedResource], None]:
    def change(r: RecordedResource) -> None:
        script = base64.b64decode(r.inputs["userData"]).decode() + extra
        r.inputs["userData"] = base64.b64encode(script.encode()).decode()

    return change


def _sg_of(res: list[RecordedResource], name: str) -> str:
    return named(res, name).id


#: The load balancer's one ingress rule without a certificate: CloudFront's origin-facing prefix list.
ORIGIN_INGRESS = "network-alb-http-from-cloudfront"

BROKEN: dict[str, tuple[str, Callable[[RecordedResource], object], str]] = {
    # case: (resource, change (what it returns is unused), expected fragment of the message)
    "world ingress on app": (
        "network-api-from-alb",
        _set("cidrIpv4", "0.0.0.0/0"),
        "not the ALB security group",
    ),
    "ssh on the ALB": (
        ORIGIN_INGRESS,
        lambda r: r.inputs.update(cidrIpv4="0.0.0.0/0", prefixListId=None, fromPort=22, toPort=22),
        "tcp 80 or 443 only",
    ),
    "all protocols on the ALB": (
        ORIGIN_INGRESS,
        lambda r: r.inputs.update(cidrIpv4="0.0.0.0/0", prefixListId=None, ipProtocol="-1"),
        "tcp 80 or 443 only",
    ),
    # the public origin's header gate (phase stacks use a VPC origin): test_edge_options.BROKEN, on "ws-cdn"
    "database open to a CIDR": (
        "network-database-from-api",
        lambda r: r.inputs.update(cidrIpv4="10.0.0.0/8", referencedSecurityGroupId=None),
        "not an app security group",
    ),
    "default SG left open": (
        "network-default-sg",
        _set("ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]),
        "default security group",
    ),
    "rds unencrypted": ("database-primary", _set("storageEncrypted", False), "storage_encrypted"),
    "rds public": ("database-primary", _set("publiclyAccessible", True), "publicly_accessible"),
    "rds password in config": (
        "database-primary",
        lambda r: r.inputs.update(manageMasterUserPassword=False, password="hunter2hunter2"),
        "RDS-managed",
    ),
    "rds without final snapshot": ("database-primary", _set("skipFinalSnapshot", True), "final snapshot"),
    "redis without TLS": ("cache-redis", _set("transitEncryptionEnabled", False), "TLS"),
    "redis unencrypted at rest": ("cache-redis", _set("atRestEncryptionEnabled", False), "at_rest"),
    "redis without auth": ("cache-redis", _del("authToken"), "authenticate"),
    "IMDSv1 allowed": (
        "api-lt",
        lambda r: r.inputs["metadataOptions"].update(httpTokens="optional"),
        "IMDSv2",
    ),
    "EBS unencrypted": (
        "realtime-lt",
        lambda r: r.inputs["blockDeviceMappings"][0]["ebs"].update(encrypted="false"),
        "must be encrypted",
    ),
    "password in user data": ("api-lt", _user_data("\nexport DB_PASSWORD=hunter2\n"), "in clear"),
    "credentials in a URL": (
        "api-lt",
        _user_data("\nURL=postgresql://stars:hunter2@db:5432/x\n"),
        "in clear",
    ),
    "S3 public access allowed": (
        "cdn-public-access-block",
        _set("restrictPublicBuckets", False),
        "public access",
    ),
    "S3 unencrypted": ("cdn-encryption", _set("rules", []), "default encryption"),
    "S3 ACLs enabled": (
        "cdn-ownership",
        _set("rule", {"objectOwnership": "ObjectWriter"}),
        "BucketOwnerEnforced",
    ),
    "CloudFront without OAC": (
        "cdn-distribution",
        lambda r: r.inputs["origins"][0].pop("originAccessControlId"),
        "Origin Access Control",
    ),
    "CloudFront allows HTTP": (
        "cdn-distribution",
        lambda r: r.inputs["defaultCacheBehavior"].update(viewerProtocolPolicy="allow-all"),
        "HTTPS",
    ),
    "bucket policy open to all": (
        "cdn-bucket-policy",
        lambda r: r.inputs.update(
            policy=json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}
            )
        ),
        "not only this distribution",
    ),
    "ALB keeps invalid headers": (
        "edge-alb",
        _set("dropInvalidHeaderFields", False),
        "drop_invalid_header_fields",
    ),
    "wildcard IAM": (
        "api-policy",
        _set(
            "policy",
            json.dumps({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}),
        ),
        "wildcard action",
    ),
    "secrets readable everywhere": (
        "realtime-policy",
        _set(
            "policy",
            json.dumps(
                {
                    "Statement": [
                        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
                    ]
                }
            ),
        ),
        "every resource",
    ),
    "missing tier tag": ("database-primary", lambda r: r.inputs["tags"].pop("tier"), "missing tags ['tier']"),
    "ASG tags not propagated": (
        "api-asg",
        lambda r: [t.update(propagateAtLaunch=False) for t in r.inputs["tags"]],
        "missing tags",
    ),
}


#: The concern each breakage belongs to: its new findings carry that rule id, and no other.
RULE_OF: dict[str, str] = {
    "ALB keeps invalid headers": "no-public-ingress",
    "ASG tags not propagated": "cost-allocation-tags",
    "CloudFront allows HTTP": "tls-in-transit",
    "CloudFront without OAC": "private-data-stores",
    "EBS unencrypted": "encryption-at-rest",
    "IMDSv1 allowed": "imdsv2",
    "S3 ACLs enabled": "private-data-stores",
    "S3 public access allowed": "private-data-stores",
    "S3 unencrypted": "encryption-at-rest",
    "all protocols on the ALB": "no-public-ingress",
    "bucket policy open to all": "private-data-stores",
    "credentials in a URL": "no-plaintext-secrets",
    "database open to a CIDR": "private-data-stores",
    "default SG left open": "no-public-ingress",
    "missing tier tag": "cost-allocation-tags",
    "password in user data": "no-plaintext-secrets",
    "rds password in config": "no-plaintext-secrets",
    "rds public": "private-data-stores",
    "rds unencrypted": "encryption-at-rest",
    "rds without final snapshot": "backups",
    "redis unencrypted at rest": "encryption-at-rest",
    "redis without TLS": "tls-in-transit",
    "redis without auth": "no-plaintext-secrets",
    "secrets readable everywhere": "least-privilege",
    "ssh on the ALB": "no-public-ingress",
    "wildcard IAM": "least-privilege",
    "world ingress on app": "no-public-ingress",
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_check_can_fail(case: str) -> None:
    name, change, fragment = BROKEN[case]
    broken = mutated(planned("phase3").resources, name, change)
    found = set(violations(broken)) - set(violations(planned("phase3").resources))  # what the breakage caused
    assert any(fragment in f.message for f in found), f"{case}: no new finding saying {fragment!r} in {found}"
    assert {f.rule for f in found if fragment in f.message} == {RULE_OF[case]}
    assert all(f.rule in CHECKS and f.severity == SEVERITY[f.rule] == "mandatory" for f in found)


def test_every_breakage_names_its_concern() -> None:
    assert sorted(RULE_OF) == sorted(BROKEN) and set(RULE_OF.values()) <= set(CHECKS)


def _found(resources: list[RecordedResource]) -> set[tuple[str, str]]:
    """Each finding's rule and the resource at fault."""
    return {(f.rule, f.resource) for f in violations(resources)}


def test_data_store_in_a_public_subnet_is_reported() -> None:
    res = planned("phase1").resources
    public = named(res, "network-public-0").id
    broken = mutated(res, "database-subnets", lambda r: r.inputs["subnetIds"].append(public))
    assert _found(broken) == {("private-data-stores", "database-primary")}
    broken = mutated(res, "cache-subnets", lambda r: r.inputs.update(subnetIds=[public]))
    assert _found(broken) == {("private-data-stores", "cache-redis")}
    broken = mutated(res, "api-asg", lambda r: r.inputs.update(vpcZoneIdentifiers=[public]))
    assert _found(broken) == {("no-public-ingress", "api-asg")}


def test_generated_secret_outside_its_secret_is_reported() -> None:
    res = planned("phase2").resources
    token = named(res, "cache-auth-token").state["result"]
    broken = mutated(res, "api-role", lambda r: r.inputs.update(description=f"token {token}"))
    assert _found(broken) == {("no-plaintext-secrets", "api-role")}


def test_http_must_redirect_once_https_exists() -> None:
    res = planned("phase1").resources
    https = RecordedResource(
        type="aws:lb/listener:Listener",
        name="edge-https",
        inputs={
            "protocol": "HTTPS",
            "port": 443,
            # on the phase's load balancer, which its VPC origin names by ARN
            "loadBalancerArn": named(res, "edge-alb").state["arn"],
            "tags": dict(named(res, "edge-http").inputs["tags"]),
        },
        id="edge-https",
        tier="edge",
        urn="urn:pulumi:phase1::stars::aws:lb/listener:Listener::edge-https",
    )
    # and CloudFront's origin now reaches a load balancer that has TLS over plain HTTP
    assert _found([*res, https]) == {("tls-in-transit", "edge-http"), ("tls-in-transit", "cdn-distribution")}


def test_no_password_inputs_and_user_data_carries_only_arns(stack_plan: Plan) -> None:
    """Spelled out, beyond the checker: RDS manages its password; user data names secrets by ARN only."""
    primary = named(stack_plan.resources, "database-primary").inputs
    assert primary["manageMasterUserPassword"] is True and "password" not in primary
    secrets = [
        r.state["result"] for r in of_type(stack_plan.resources, "random:index/randomPassword:RandomPassword")
    ]
    # cache auth token, JWT signing key (a VPC origin needs no origin header secret)
    assert len(secrets) == 2
    for lt in of_type(stack_plan.resources, "aws:ec2/launchTemplate:LaunchTemplate"):
        script = base64.b64decode(lt.inputs["userData"]).decode()
        assert not any(s in script for s in secrets)
        for name in ("STARS_DB_SECRET_ARN", "STARS_REDIS_AUTH_SECRET_ARN", "STARS_JWT_SECRET_ARN"):
            assert re.search(rf"export {name}='?arn:aws:secretsmanager:", script), name
