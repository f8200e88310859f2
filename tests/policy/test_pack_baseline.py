"""The security baseline as policies: one per concern of components/planning/baseline.py, passing on the
three stacks and on the options no phase uses yet, each failing with its own message on a deliberately
broken resource, and deciding in a preview what the engine's property dependencies let it decide."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from components.planning.baseline import CHECKS, violations
from policy import baseline_policies
from policy.baseline_policies import CONCERNS, policies
from policy.resources import from_policy_resources, recorded_resources
from tests.policy.engine import EngineResource, named, policy_resources, run, run_each
from tests.policy.stacks import OPTIONS, known, preview

POLICIES = {p.name: p for p in policies()}
Change = Callable[[list[EngineResource]], None]


def test_one_policy_per_concern_and_one_concern_per_check() -> None:
    assert sorted(c.check for c in CONCERNS) == sorted(CHECKS)
    assert len(POLICIES) == len(CONCERNS)
    for policy in POLICIES.values():
        assert policy.name.startswith("stars-")
        assert policy.description and policy.remediation_steps
        assert policy.enforcement_level is not None and policy.enforcement_level.value == "mandatory"


def test_a_concerns_level_is_the_severity_its_findings_carry(monkeypatch: pytest.MonkeyPatch) -> None:
    """One setting: the baseline's severity decides the policy's enforcement level (no second copy)."""
    [concern] = [c for c in CONCERNS if c.check == "imdsv2"]
    monkeypatch.setitem(baseline_policies.SEVERITY, "imdsv2", "advisory")
    assert concern.enforcement_level.value == "advisory"
    assert [p.enforcement_level.value for p in policies() if p.name == concern.name] == ["advisory"]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_each_policy_holds_on_every_stack(phase: str, name: str) -> None:
    assert run(POLICIES[name], known(phase)) == []


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_each_policy_holds_on_every_option(option: str) -> None:
    """The combined app tier with public servers, an NLB with TLS and /ws through CloudFront, a flat-rate
    plan whose web ACL is under a us-east-1 provider."""
    resources = known(option)
    found = run_each(POLICIES, resources)
    assert {name: lines for name, lines in found.items() if lines} == {}


def _props(name: str, **values: Any) -> Change:
    def change(resources: list[EngineResource]) -> None:
        named(resources, name).props.update(values)

    return change


def _edit(name: str, edit: Callable[[dict[str, Any]], Any]) -> Change:
    def change(resources: list[EngineResource]) -> None:
        edit(named(resources, name).props)

    return change


def _both(first: Change, second: Change) -> Change:
    def change(resources: list[EngineResource]) -> None:
        first(resources)
        second(resources)

    return change


def _public_subnet_in(name: str, key: str) -> Change:
    def change(resources: list[EngineResource]) -> None:
        public = named(resources, "network-public-0").props["id"]
        named(resources, name).props[key] = [public]

    return change


def _user_data(extra: str) -> Callable[[dict[str, Any]], None]:
    def edit(props: dict[str, Any]) -> None:
        script = base64.b64decode(props["userData"]).decode() + extra
        props["userData"] = base64.b64encode(script.encode()).decode()

    return edit


def _leak_token(resources: list[EngineResource]) -> None:
    token = named(resources, "cache-auth-token").props["result"]
    named(resources, "api-role").props["description"] = f"token {token}"


_OPEN_POLICY = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]})
_WILDCARD = json.dumps({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]})

#: case: (resource the finding names, change, policy that must report it, fragment of its message)
#: The load balancer's one ingress rule in the phases (internal, no certificate): CloudFront's origin-facing
#: list.
ORIGIN_INGRESS = "network-alb-http-from-cloudfront"

BROKEN: dict[str, tuple[str, Change, str, str]] = {
    "rds unencrypted": (
        "database-primary",
        _props("database-primary", storageEncrypted=False),
        "stars-encryption-at-rest",
        "storage_encrypted must be true",
    ),
    "EBS unencrypted": (
        "realtime-lt",
        _edit("realtime-lt", lambda p: p["blockDeviceMappings"][0]["ebs"].update(encrypted="false")),
        "stars-encryption-at-rest",
        "must be encrypted",
    ),
    "S3 unencrypted": (
        "cdn-bucket",
        _props("cdn-encryption", rules=[]),
        "stars-encryption-at-rest",
        "default encryption must be configured",
    ),
    "world ingress on an app server": (
        "network-api-from-alb",
        _props("network-api-from-alb", cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None),
        "stars-no-public-ingress",
        "which is not the ALB security group",
    ),
    "ssh on the load balancer": (
        ORIGIN_INGRESS,
        _props(ORIGIN_INGRESS, cidrIpv4="0.0.0.0/0", prefixListId=None, fromPort=22, toPort=22),
        "stars-no-public-ingress",
        "tcp 80 or 443 only",
    ),
    # the phases' internal load balancer (behind a VPC origin) made internet-facing and opened to all
    "plain HTTP open to the internet": (
        "edge-http",
        _both(
            _props("edge-alb", internal=False),
            _props(ORIGIN_INGRESS, cidrIpv4="0.0.0.0/0", prefixListId=None),
        ),
        "stars-no-plain-http",
        "open to the internet and serves",
    ),
    "default security group left open": (
        "network-vpc",
        _props("network-default-sg", ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]),
        "stars-no-public-ingress",
        "default security group must be adopted with no rules",
    ),
    "servers in a public subnet": (
        "api-asg",
        _public_subnet_in("api-asg", "vpcZoneIdentifiers"),
        "stars-no-public-ingress",
        "servers placed in public subnets",
    ),
    "invalid headers reach the servers": (
        "edge-alb",
        _props("edge-alb", dropInvalidHeaderFields=False),
        "stars-no-public-ingress",
        "drop_invalid_header_fields",
    ),
    "IMDSv1 allowed": (
        "api-lt",
        _edit("api-lt", lambda p: p["metadataOptions"].update(httpTokens="optional")),
        "stars-imdsv2",
        "IMDSv2 must be required",
    ),
    "metadata reachable from containers": (
        "api-lt",
        _edit("api-lt", lambda p: p["metadataOptions"].update(httpPutResponseHopLimit=3)),
        "stars-imdsv2",
        "hop limit above 2",
    ),
    "public database": (
        "database-primary",
        _props("database-primary", publiclyAccessible=True),
        "stars-private-data-stores",
        "publicly_accessible must be false",
    ),
    "database open to a CIDR": (
        "network-database-from-api",
        _props("network-database-from-api", cidrIpv4="10.0.0.0/8", referencedSecurityGroupId=None),
        "stars-private-data-stores",
        "not an app security group",
    ),
    "database in a public subnet": (
        "database-primary",
        _public_subnet_in("database-subnets", "subnetIds"),
        "stars-private-data-stores",
        "includes public subnets",
    ),
    "S3 public access allowed": (
        "cdn-bucket",
        _props("cdn-public-access-block", restrictPublicBuckets=False),
        "stars-private-data-stores",
        "public access must be blocked",
    ),
    "CloudFront reads S3 without OAC": (
        "cdn-distribution",
        _edit("cdn-distribution", lambda p: p["origins"][0].pop("originAccessControlId")),
        "stars-private-data-stores",
        "must use Origin Access Control",
    ),
    "bucket policy open to all": (
        "cdn-bucket-policy",
        _props("cdn-bucket-policy", policy=_OPEN_POLICY),
        "stars-private-data-stores",
        "not only this distribution",
    ),
    "Redis without TLS": (
        "cache-redis",
        _props("cache-redis", transitEncryptionEnabled=False),
        "stars-tls-in-transit",
        "transit_encryption_enabled (TLS) must be true",
    ),
    "CloudFront allows HTTP": (
        "cdn-distribution",
        _edit(
            "cdn-distribution", lambda p: p["defaultCacheBehavior"].update(viewerProtocolPolicy="allow-all")
        ),
        "stars-tls-in-transit",
        "viewers must use HTTPS",
    ),
    "no automated backups": (
        "database-primary",
        _props("database-primary", backupRetentionPeriod=0),
        "stars-backups",
        "automated backups must be kept",
    ),
    "no final snapshot": (
        "database-primary",
        _props("database-primary", skipFinalSnapshot=True),
        "stars-backups",
        "a final snapshot must be taken on delete",
    ),
    "database password in config": (
        "database-primary",
        _props("database-primary", manageMasterUserPassword=False, password="hunter2hunter2"),
        "stars-no-plaintext-secrets",
        "must be RDS-managed",
    ),
    "Redis without auth": (
        "cache-redis",
        _edit("cache-redis", lambda p: p.pop("authToken")),
        "stars-no-plaintext-secrets",
        "clients must authenticate",
    ),
    "password in user data": (
        "api-lt",
        _edit("api-lt", _user_data("\nexport DB_PASSWORD=hunter2\n")),
        "stars-no-plaintext-secrets",
        "sets a credential in clear",
    ),
    "generated secret outside its secret": (
        "api-role",
        _leak_token,
        "stars-no-plaintext-secrets",
        "contains a generated secret value",
    ),
    "wildcard IAM": (
        "api-policy",
        _props("api-policy", policy=_WILDCARD),
        "stars-least-privilege-iam",
        "wildcard action",
    ),
    "missing tier tag": (
        "database-primary",
        _edit("database-primary", lambda p: p["tags"].pop("tier")),
        "stars-cost-allocation-tags",
        "missing tags ['tier']",
    ),
    "group tags not propagated": (
        "api-asg",
        _edit("api-asg", lambda p: [t.update(propagateAtLaunch=False) for t in p["tags"]]),
        "stars-cost-allocation-tags",
        "missing tags",
    ),
    "tier tag of another tier": (
        "database-primary",
        _edit("database-primary", lambda p: p["tags"].update(tier="edge")),
        "stars-cost-allocation-tags",
        "tag tier='edge' but the resource belongs to 'database'",
    ),
}


def _provider_region(name: str, region: str) -> Change:
    def change(resources: list[EngineResource]) -> None:
        named(resources, name).props["region"] = region

    return change


def _interface(name: str, edit: Callable[[dict[str, Any]], Any]) -> Change:
    return _edit(name, lambda p: edit(p["networkInterfaces"][0]))


def _join_load_balancer_group(resources: list[EngineResource]) -> None:
    alb = named(resources, "network-alb-sg").props["id"]
    named(resources, "app-lt").props["networkInterfaces"][0]["securityGroups"].append(alb)


def _ws_behavior(key: str, value: str) -> Change:
    return _edit("cdn-distribution", lambda p: p["orderedCacheBehaviors"][0].update({key: value}))


def _ws_origin(policy: str) -> Change:
    def edit(props: dict[str, Any]) -> None:
        origin = next(o for o in props["origins"] if "customOriginConfig" in o)
        origin["customOriginConfig"]["originProtocolPolicy"] = policy

    return _edit("cdn-distribution", edit)


#: Breakages of the options (stack of OPTIONS: (resource named, change, policy, fragment of its message)).
BROKEN_OPTIONS: dict[str, tuple[str, str, Change, str, str]] = {
    "web ACL outside us-east-1": (
        "plan-business",
        "cdn-waf",
        _provider_region("cdn-us-east-1", "af-south-1"),
        "stars-cloudfront-web-acl",
        "a CLOUDFRONT web ACL must be created in us-east-1 (got af-south-1)",
    ),
    "distribution without the plan's web ACL": (
        "plan-business",
        "cdn-distribution",
        _edit("cdn-distribution", lambda p: p.pop("webAclId")),
        "stars-cloudfront-web-acl",
        "not the web ACL its flat-rate plan",
    ),
    "NLB open on a port it does not listen on": (
        "nlb-tls-ws-cdn",
        "network-alb-8443-in",
        _props("network-alb-8443-in", fromPort=8080, toPort=8080),
        "stars-no-public-ingress",
        "or an NLB's realtime listener port (8080/8443) (got 8080-8080)",
    ),
    "plain TCP beside TLS on an NLB": (
        "nlb-tls-ws-cdn",
        "edge-realtime-listener",
        _props("edge-realtime-listener", protocol="TCP", certificateArn=None),
        "stars-no-plain-http",
        "plain TCP on port 8443 is open to the internet",
    ),
    "/ws viewers redirected from HTTP": (
        "nlb-tls-ws-cdn",
        "cdn-distribution",
        _ws_behavior("viewerProtocolPolicy", "redirect-to-https"),
        "stars-tls-in-transit",
        "to the load balancer must be https-only (got redirect-to-https)",
    ),
    "plain HTTP to a TLS load balancer": (
        "nlb-tls-ws-cdn",
        "cdn-distribution",
        _ws_origin("match-viewer"),
        "stars-tls-in-transit",
        "reaches a load balancer that has TLS over match-viewer; it must be https-only",
    ),
    "app tier open to the world": (
        "app-public-reserved",
        "network-app-from-alb",
        _props("network-app-from-alb", cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None),
        "stars-no-public-ingress",
        "which is not the ALB security group",
    ),
    "public server in the load balancer's group": (
        "app-public-reserved",
        "app-lt",
        _join_load_balancer_group,
        "stars-no-public-ingress",
        "servers with a public IPv4 are in",
    ),
    "public subnets without a public IPv4": (
        "app-public-reserved",
        "app-asg",
        _interface("app-lt", lambda i: i.update(associatePublicIpAddress="false")),
        "stars-no-public-ingress",
        "without the public egress layout",
    ),
    "app tier on IMDSv1": (
        "app-public-reserved",
        "app-lt",
        _edit("app-lt", lambda p: p["metadataOptions"].update(httpTokens="optional")),
        "stars-imdsv2",
        "IMDSv2 must be required",
    ),
}


def _fails_alone(stack: str, subject: str, change: Change, expected: str, fragment: str) -> None:
    resources = known(stack)
    change(resources)
    found = run_each(POLICIES, resources)
    urn = named(resources, subject).urn
    assert any(fragment in message and at == urn for message, at in found[expected]), found[expected]
    others = {name: lines for name, lines in found.items() if name != expected and lines}
    assert others == {}, "other policies fired too"


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_policy_fails_with_its_own_message(case: str) -> None:
    _fails_alone("phase3", *BROKEN[case])


@pytest.mark.parametrize("case", sorted(BROKEN_OPTIONS))
def test_each_options_breakage_fails_its_own_policy(case: str) -> None:
    _fails_alone(*BROKEN_OPTIONS[case])


def test_every_concern_is_shown_failing() -> None:
    shown = {p for _, _, p, _ in BROKEN.values()} | {p for _, _, _, p, _ in BROKEN_OPTIONS.values()}
    assert shown == set(POLICIES)


def test_the_policies_report_exactly_the_baseline() -> None:
    """One definition: what the policies report together is what the infra tests' ``violations`` says."""
    resources = known("phase2")
    for case in ("public database", "Redis without TLS", "wildcard IAM", "missing tier tag"):
        BROKEN[case][1](resources)
    records = recorded_resources(from_policy_resources(policy_resources(resources)))
    reported = sorted(m for lines in run_each(POLICIES, resources).values() for m, _ in lines)
    assert reported == sorted(str(f) for f in violations(records))
    assert len(reported) == 5  # the wildcard statement breaks two rules: its action and its resource


def _decide(policy: StackValidationPolicy, resources: list[EngineResource]) -> list[str] | str:
    """The policy's findings, or, when it cannot be decided before deploy, the value it needed (the SDK
    then reports it as advisory: "can't run policy ... during preview")."""
    try:
        return [message for message, _ in run(policy, resources)]
    except UnknownValueError as exc:
        return exc.message


def _needs(path: str) -> str:
    return f"string value at .{path} can't be known during preview"


#: The policies a preview that creates the stack cannot decide, each with the value known only after deploy
#: that it needs first. Each is nested in a property that comes from several resources, so no one
#: resource's id can stand in for it. Every other policy decides, links followed through property
#: dependencies, and finds nothing.
UNDECIDED_IN_A_PREVIEW = {
    # whether a CloudFront origin is one of the buckets: the S3 origin's domain name is the bucket's output
    "stars-private-data-stores": _needs("cdn-distribution.origins.0.domainName"),
    # whether a CloudFront origin is a load balancer with a plaintext listener: its domain name again
    "stars-no-plain-http": _needs("cdn-distribution.origins.0.domainName"),
    # every string input is read: the S3 origin's access control id is that resource's output
    "stars-no-plaintext-secrets": _needs("cdn-distribution.origins.0.originAccessControlId"),
    # the API servers' policy document names the ARNs of the resources they may use
    "stars-least-privilege-iam": _needs("api-policy.policy"),
}
#: Where an option's stack needs another value first (the rest as in the phases).
UNDECIDED_IN_AN_OPTIONS_PREVIEW: dict[str, dict[str, str]] = {
    # the combined app tier's servers have their own policy document
    "app-public-reserved": {"stars-least-privilege-iam": _needs("app-policy.policy")},
}


def test_a_preview_decides_every_policy_it_can_and_reports_nothing(phase: str) -> None:
    decided = {name: _decide(policy, preview(phase)) for name, policy in POLICIES.items()}
    assert decided == {name: UNDECIDED_IN_A_PREVIEW.get(name, []) for name in POLICIES}


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_a_preview_of_an_option_decides_every_policy_it_can_and_reports_nothing(option: str) -> None:
    decided = {name: _decide(policy, preview(option)) for name, policy in POLICIES.items()}
    expected = {**UNDECIDED_IN_A_PREVIEW, **UNDECIDED_IN_AN_OPTIONS_PREVIEW.get(option, {})}
    assert decided == {name: expected.get(name, []) for name in POLICIES}


def test_a_preview_decides_tls_before_the_load_balancers_dns_name_is_known() -> None:
    """Regression: stars-tls-in-transit read every CloudFront origin's domain name (the load balancer's,
    known after deploy) even when no load balancer has TLS, so a preview left the whole policy undecided
    and a Redis without TLS passed it."""
    resources = preview("phase1")
    named(resources, "cache-redis").props["transitEncryptionEnabled"] = False
    [(message, urn)] = run(POLICIES["stars-tls-in-transit"], resources)
    assert message == "cache-redis: transit_encryption_enabled (TLS) must be true"
    assert urn == named(resources, "cache-redis").urn


def test_a_web_acl_region_unknown_until_deploy_is_left_undecided() -> None:
    resources = preview("plan-business")
    named(resources, "cdn-us-east-1").props["region"] = UNKNOWN_STRING_VALUE
    with pytest.raises(UnknownValueError) as raised:
        run(POLICIES["stars-cloudfront-web-acl"], resources)
    assert raised.value.message == "string value at .cdn-us-east-1.region can't be known during preview"
    named(resources, "cdn-us-east-1").props["region"] = "eu-west-1"
    [(message, urn)] = run(POLICIES["stars-cloudfront-web-acl"], resources)
    assert "must be created in us-east-1 (got eu-west-1)" in message
    assert urn == named(resources, "cdn-waf").urn


def test_a_preview_finds_a_break_behind_links_not_created_yet() -> None:
    resources = preview("phase1")
    rule = named(resources, "network-api-from-alb")
    assert rule.props["securityGroupId"] == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    rule.props.update(cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None)
    rule.property_dependencies.pop("referencedSecurityGroupId")
    found = run(POLICIES["stars-no-public-ingress"], resources)
    assert any("0.0.0.0/0 ingress on" in m and "not the ALB security group" in m for m, _ in found), found
    assert {urn for _, urn in found} == {rule.urn}


def test_an_unresolvable_unknown_leaves_the_policy_undecided() -> None:
    """Two resources feed one nested input (a distribution's origins: the bucket and the OAC): the
    check cannot tell which is which before deploy, and says so instead of guessing."""
    with pytest.raises(UnknownValueError) as raised:
        run(POLICIES["stars-private-data-stores"], preview("phase1"))
    assert (
        raised.value.message
        == "string value at .cdn-distribution.origins.0.domainName can't be known during preview"
    )
