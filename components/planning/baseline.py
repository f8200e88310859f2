"""The security baseline as code: checks over the recorded resources of a mocked run.

One function per concern (encryption at rest, public ingress, IMDSv2, private data stores, TLS in transit,
the CloudFront web ACL, backups, secrets, least privilege, tags), listed in :data:`CHECKS`; each returns a
:class:`Finding` per breach (rule id, resource, message, severity). ``violations(resources)`` runs
them all (empty list: the baseline holds). The tests run it on every phase and on deliberately broken
records, so each check is shown to be able to fail; the policy pack (``policy/``) enforces each concern
as one named CrossGuard policy through the same functions, so the baseline has one definition.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

from components.planning.mocks import RecordedResource
from components.tagging import REQUIRED_TAG_KEYS

WORLD = ("0.0.0.0/0", "::/0")
ALB_PUBLIC_PORTS = (80, 443)
#: An NLB cannot route by path: a split layout's realtime tier has its own listener (TCP 8080, TLS 8443).
NLB_REALTIME_PORTS = (8080, 8443)
#: CloudFront-scoped AWS WAF web ACLs can only be created in us-east-1.
CLOUDFRONT_WAF_REGION = "us-east-1"
#: Pulumi's marker for a secret value in deserialized inputs.
SECRET_SIG = "4dabf18193072939515e22adb298388d"

#: AWS resource types without a ``tags`` input (tests/infra checks this list against the provider SDK).
UNTAGGABLE_TYPES = frozenset(
    {
        # A provider configuration, not a cloud resource: it has ``default_tags``, no ``tags``.
        "pulumi:providers:aws",
        # The CloudFront flat-rate plan subscription has no tags input; its cost is tagged by the
        # distribution and web ACL it covers.
        "aws:pricingplanmanager/subscription:Subscription",
        "aws:ec2/route:Route",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:autoscaling/policy:Policy",
        "aws:autoscaling/schedule:Schedule",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:cloudfront/originAccessControl:OriginAccessControl",
        "aws:cloudfront/cachePolicy:CachePolicy",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:cloudwatch/dashboard:Dashboard",
        "aws:kms/alias:Alias",
        "random:index/randomPassword:RandomPassword",
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:route53/record:Record",
    }
)
#: Where a generated secret may legitimately appear as an input.
SECRET_CONSUMERS = {
    # The generator itself: a stack policy sees its outputs, where the generated value is its result.
    ("random:index/randomPassword:RandomPassword", "result"),
    ("aws:secretsmanager/secretVersion:SecretVersion", "secretString"),
    ("aws:elasticache/replicationGroup:ReplicationGroup", "authToken"),
    # The origin header a certificate-less load balancer requires: CloudFront sends it, a rule checks it.
    ("aws:cloudfront/distribution:Distribution", "origins"),
    ("aws:lb/listenerRule:ListenerRule", "conditions"),
}
#: Input keys that would put a password into state or config.
PASSWORD_KEYS = ("password", "masterPassword", "masterUserPassword", "authTokenWo")


#: A shell/env assignment of a password, token or signing key (an ARN pointing to one is fine).
CLEAR_SECRET = re.compile(
    r"^\s*(export\s+)?[A-Z_]*(PASSWORD|AUTH_TOKEN|JWT_SECRET)[A-Z_]*=(?![\'\"]?(arn:|\$))\S"
)
#: ``scheme://user:password@host`` with a literal password (templates filled at boot, ``%s``, ``{password}``
#: or ``$PASSWORD``, are fine).
URL_CREDENTIALS = re.compile(r"://[^/\s:@]*:(?![%{$])[^@\s/]+@")


def _of(resources: Iterable[RecordedResource], typ: str) -> list[RecordedResource]:
    return [r for r in resources if r.type == typ]


def _port(value: Any) -> int | None:
    return None if value is None else int(value)


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside an input value, with its path (secrets unwrapped)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


#: The value under SECRET_SIG that marks a secret (the same key also marks assets and archives).
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG


def _policy(text: Any) -> dict[str, Any]:
    if _is_secret(text):
        text = text["value"]
    return json.loads(text) if isinstance(text, str) else dict(text or {})


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    st = doc.get("Statement", [])
    return [st] if isinstance(st, dict) else list(st)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"

Severity = Literal["mandatory", "advisory"]


@dataclass(frozen=True)
class Finding:
    """One breach of the baseline, as data: the tests and the policy pack read its fields, never its text.

    ``resource`` is the logical name of the resource at fault (the pack attaches the violation to its URN);
    ``part`` narrows it (an inline rule such as ``ingress[2]``). ``str()`` is the line people read.
    """

    rule: str
    resource: str
    message: str
    part: str = ""
    severity: Severity = "mandatory"

    def __str__(self) -> str:
        where = f"{self.resource}.{self.part}" if self.part else self.resource
        return f"{where}: {self.message}"


class Subject(NamedTuple):
    """What a finding is about: a resource's logical name and, optionally, a part of it."""

    resource: str
    part: str = ""


def _breach(subject: str | Subject, message: str) -> Finding:
    """A finding of the check being run; :func:`_concern` stamps the rule id on it."""
    resource, part = (subject, "") if isinstance(subject, str) else subject
    return Finding(rule="", resource=resource, message=message, part=part)


Check = Callable[[list[RecordedResource]], list[Finding]]
_REGISTERED: dict[str, Check] = {}
_SEVERITIES: dict[str, Severity] = {}


def _concern(rule: str, severity: Severity = "mandatory") -> Callable[[Check], Check]:
    """Register a check under its concern id; every finding it returns carries that id and the concern's
    severity (the policy pack enforces the concern at that level: :data:`SEVERITY`)."""

    def register(check: Check) -> Check:
        @functools.wraps(check)
        def stamped(res: list[RecordedResource]) -> list[Finding]:
            return [replace(f, rule=rule, severity=severity) for f in check(res)]

        _REGISTERED[rule] = stamped
        _SEVERITIES[rule] = severity
        return stamped

    return register


def _template_groups(lt: RecordedResource) -> list[str]:
    """The security groups a launch template puts its instances in (top level, or on its interfaces)."""
    groups = list(lt.inputs.get("vpcSecurityGroupIds") or [])
    for interface in lt.inputs.get("networkInterfaces") or []:
        groups += interface.get("securityGroups") or []
    return groups


def _assigns_public_ip(lt: RecordedResource) -> bool:
    """Whether each instance gets a public IPv4 (``private_egress: public``)."""
    interfaces = lt.inputs.get("networkInterfaces") or []
    return any(str(i.get("associatePublicIpAddress")).lower() == "true" for i in interfaces)


def _template_of(asg: RecordedResource, res: list[RecordedResource]) -> RecordedResource | None:
    """The launch template an auto-scaling group launches (directly or through its mixed policy)."""
    mixed = (asg.inputs.get("mixedInstancesPolicy") or {}).get("launchTemplate") or {}
    spec = asg.inputs.get("launchTemplate") or mixed.get("launchTemplateSpecification") or {}
    ref = spec.get("id") or spec.get("launchTemplateId")
    return next((lt for lt in _of(res, LAUNCH_TEMPLATE) if lt.id == ref), None)


def _listeners_of(res: list[RecordedResource], lb: RecordedResource) -> list[RecordedResource]:
    """The listeners attached to a load balancer (by its ARN, which the mocks also return as its id)."""
    arns = {lb.id, lb.state.get("arn")}
    return [li for li in _of(res, "aws:lb/listener:Listener") if li.inputs.get("loadBalancerArn") in arns]


def _is_network(lb: RecordedResource) -> bool:
    return lb.inputs.get("loadBalancerType") == "network"


def _nlb_world_ports(res: list[RecordedResource]) -> dict[str, set[int]]:
    """Per load balancer security group: the NLB realtime listener ports it may open to the world."""
    ports: dict[str, set[int]] = {}
    for lb in _of(res, LOAD_BALANCER):
        if not _is_network(lb):
            continue
        listening = {_port(li.inputs.get("port")) for li in _listeners_of(res, lb)}
        for sg in lb.inputs.get("securityGroups", []):
            ports.setdefault(sg, set()).update(p for p in listening if p in NLB_REALTIME_PORTS)
    return ports


def _public_subnets(resources: list[RecordedResource]) -> set[str | None]:
    """Subnets whose route table sends traffic to an internet gateway, or that assign public IPs (None: an
    association recorded without its subnet)."""
    igws = {r.id for r in _of(resources, "aws:ec2/internetGateway:InternetGateway")}
    to_igw = {
        r.inputs.get("routeTableId")
        for r in _of(resources, "aws:ec2/route:Route")
        if r.inputs.get("gatewayId") in igws
    }
    for rt in _of(resources, "aws:ec2/routeTable:RouteTable"):
        if any(route.get("gatewayId") in igws for route in rt.inputs.get("routes") or []):
            to_igw.add(rt.id)
    public = {
        r.inputs.get("subnetId")
        for r in _of(resources, "aws:ec2/routeTableAssociation:RouteTableAssociation")
        if r.inputs.get("routeTableId") in to_igw
    }
    public |= {r.id for r in _of(resources, "aws:ec2/subnet:Subnet") if r.inputs.get("mapPublicIpOnLaunch")}
    return public


def _security_groups(res: list[RecordedResource]) -> tuple[set[str], set[str], set[str]]:
    """The load balancers', the app servers' and the data stores' security groups (by id)."""
    alb_sgs = {sg for r in _of(res, LOAD_BALANCER) for sg in r.inputs.get("securityGroups", [])}
    app_sgs = {sg for r in _of(res, LAUNCH_TEMPLATE) for sg in _template_groups(r)}
    data_sgs = {
        sg for r in _of(res, "aws:rds/instance:Instance") for sg in r.inputs.get("vpcSecurityGroupIds", [])
    } | {
        sg
        for r in _of(res, "aws:elasticache/replicationGroup:ReplicationGroup")
        for sg in r.inputs.get("securityGroupIds", [])
    }
    return alb_sgs, app_sgs, data_sgs


def _ingress_rules(res: list[RecordedResource]) -> list[tuple[Subject, str, dict[str, Any]]]:
    """Every ingress rule as (name, security group id, flat rule): rule resources and inline rules."""
    rules: list[tuple[Subject, str, dict[str, Any]]] = [
        (Subject(r.name), r.inputs.get("securityGroupId", ""), r.inputs)
        for r in _of(res, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    ]
    for sg in _of(res, "aws:ec2/securityGroup:SecurityGroup"):
        for i, rule in enumerate(sg.inputs.get("ingress") or []):
            for cidr in (rule.get("cidrBlocks") or []) + (rule.get("ipv6CidrBlocks") or []):
                flat = {
                    "cidrIpv4": cidr,
                    "fromPort": rule.get("fromPort"),
                    "toPort": rule.get("toPort"),
                    "ipProtocol": rule.get("protocol"),
                }
                rules.append((Subject(sg.name, f"ingress[{i}]"), sg.id, flat))
            for ref in rule.get("securityGroups") or []:
                rules.append(
                    (
                        Subject(sg.name, f"ingress[{i}]"),
                        sg.id,
                        {
                            "referencedSecurityGroupId": ref,
                            "fromPort": rule.get("fromPort"),
                            "toPort": rule.get("toPort"),
                        },
                    )
                )
    return rules


def _s3_configs(res: list[RecordedResource], typ: str) -> dict[str | None, dict[str, Any]]:
    """A bucket configuration resource's inputs, by the bucket it configures (None: recorded without one)."""
    return {r.inputs.get("bucket"): r.inputs for r in _of(res, typ)}


@_concern("encryption-at-rest")
def encryption_at_rest(res: list[RecordedResource]) -> list[Finding]:
    """RDS storage, ElastiCache, EBS volumes and S3 buckets are encrypted at rest."""
    out: list[Finding] = []
    for db in _of(res, "aws:rds/instance:Instance"):
        if db.inputs.get("storageEncrypted") is not True:
            out.append(_breach(db.name, "storage_encrypted must be true"))
    for rg in _of(res, "aws:elasticache/replicationGroup:ReplicationGroup"):
        if rg.inputs.get("atRestEncryptionEnabled") is not True:
            out.append(_breach(rg.name, "at_rest_encryption_enabled must be true"))
    for lt in _of(res, LAUNCH_TEMPLATE):
        mappings = lt.inputs.get("blockDeviceMappings") or []
        if not mappings:
            out.append(_breach(lt.name, "the root volume must be declared (and encrypted)"))
        for m in mappings:
            ebs = m.get("ebs") or {}
            if str(ebs.get("encrypted")).lower() != "true":
                out.append(_breach(lt.name, f"EBS volume {m.get('deviceName')} must be encrypted"))
    sse = _s3_configs(
        res, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    for b in _of(res, "aws:s3/bucket:Bucket"):
        rules = (sse.get(b.id) or {}).get("rules") or []
        algos = {(r.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for r in rules}
        if not algos & {"AES256", "aws:kms", "aws:kms:dsse"}:
            out.append(_breach(b.name, "default encryption must be configured"))
    return out


@_concern("no-public-ingress")
def no_public_ingress(res: list[RecordedResource]) -> list[Finding]:
    """Only the load balancer admits the internet, on tcp 80/443 (an NLB also on its realtime listener
    port), and an ALB drops invalid headers; app servers admit only the load balancer and sit in private
    subnets, unless ``private_egress: public`` gives each a public IPv4 in groups that admit only the load
    balancer; the default security group is closed."""
    out: list[Finding] = []
    alb_sgs, app_sgs, _ = _security_groups(res)
    realtime_ports = _nlb_world_ports(res)
    closed = {
        r.inputs.get("vpcId")
        for r in _of(res, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
        if not r.inputs.get("ingress") and not r.inputs.get("egress")
    }
    for vpc in _of(res, "aws:ec2/vpc:Vpc"):
        if vpc.id not in closed:
            out.append(_breach(vpc.name, "the default security group must be adopted with no rules"))
    for name, group, rule in _ingress_rules(res):
        cidr = rule.get("cidrIpv4") or rule.get("cidrIpv6")
        lo, hi = _port(rule.get("fromPort")), _port(rule.get("toPort"))
        if cidr in WORLD:
            if group not in alb_sgs:
                out.append(_breach(name, f"{cidr} ingress on {group}, which is not the ALB security group"))
            elif (
                str(rule.get("ipProtocol")) != "tcp"
                or lo != hi
                or lo not in (*ALB_PUBLIC_PORTS, *realtime_ports.get(group, ()))
            ):
                out.append(
                    _breach(
                        name,
                        f"{cidr} ingress on the ALB must be tcp 80 or 443 only, or an NLB's realtime"
                        f" listener port ({'/'.join(map(str, NLB_REALTIME_PORTS))}) (got {lo}-{hi})",
                    )
                )
        if group in app_sgs and group not in alb_sgs:
            source = rule.get("referencedSecurityGroupId")
            if source not in alb_sgs:
                out.append(_breach(name, f"app security group {group} admits {cidr or source}, not the ALB"))
    public = _public_subnets(res)
    for asg in _of(res, "aws:autoscaling/group:Group"):
        exposed = sorted(set(asg.inputs.get("vpcZoneIdentifiers", [])) & public)
        template = _template_of(asg, res)
        # Only ``private_egress: public`` puts servers there: each with its own public IPv4, which
        # _public_server_checks holds to the load balancer's security group alone.
        if exposed and (template is None or not _assigns_public_ip(template)):
            out.append(
                _breach(
                    asg.name,
                    f"servers placed in public subnets {exposed} without the public egress layout"
                    " (a public IPv4 per server behind the load balancer's security group)",
                )
            )
    out += _public_server_checks(res)
    for alb in _of(res, LOAD_BALANCER):
        if not _is_network(alb) and alb.inputs.get("dropInvalidHeaderFields") is not True:
            out.append(_breach(alb.name, "drop_invalid_header_fields must be true"))
    return out


def _public_server_checks(res: list[RecordedResource]) -> list[Finding]:
    """Servers with a public IPv4: in named security groups that admit nothing but the load balancer.

    (Every app security group must admit only the load balancer's group: :func:`no_public_ingress`. Here:
    a public server must not share a group that admits the internet, such as the load balancer's own.)
    """
    out: list[Finding] = []
    world = {
        group
        for _, group, rule in _ingress_rules(res)
        if (rule.get("cidrIpv4") or rule.get("cidrIpv6")) in WORLD
    }
    for lt in _of(res, LAUNCH_TEMPLATE):
        if not _assigns_public_ip(lt):
            continue
        groups = _template_groups(lt)
        if not groups:
            out.append(_breach(lt.name, "servers with a public IPv4 must name their security groups"))
        for group in sorted(set(groups) & world):
            out.append(
                _breach(lt.name, f"servers with a public IPv4 are in {group}, which admits the internet")
            )
    return out


@_concern("imdsv2")
def imdsv2(res: list[RecordedResource]) -> list[Finding]:
    """Instances require IMDSv2 tokens, with a hop limit that keeps containers from their credentials."""
    out: list[Finding] = []
    for lt in _of(res, LAUNCH_TEMPLATE):
        meta = lt.inputs.get("metadataOptions") or {}
        if meta.get("httpTokens") != "required":
            out.append(_breach(lt.name, "IMDSv2 must be required (metadata_options.http_tokens)"))
        if int(meta.get("httpPutResponseHopLimit", 1)) > 2:
            out.append(
                _breach(lt.name, "metadata hop limit above 2 lets containers reach instance credentials")
            )
    return out


@_concern("private-data-stores")
def private_data_stores(res: list[RecordedResource]) -> list[Finding]:
    """Databases and caches live in private subnets, reachable only from the app security groups; S3
    blocks public access and ACLs, and is read only by this stack's CloudFront through Origin Access
    Control."""
    out: list[Finding] = []
    _, app_sgs, data_sgs = _security_groups(res)
    for name, group, rule in _ingress_rules(res):
        if group in data_sgs:
            cidr = rule.get("cidrIpv4") or rule.get("cidrIpv6")
            source = rule.get("referencedSecurityGroupId")
            if cidr is not None or rule.get("prefixListId") is not None or source not in app_sgs:
                out.append(
                    _breach(
                        name,
                        f"data security group {group} admits {cidr or source}, not an app security group",
                    )
                )
    public = _public_subnets(res)
    rds_groups = {
        r.inputs.get("name") or r.state.get("name"): r for r in _of(res, "aws:rds/subnetGroup:SubnetGroup")
    }
    cache_groups = {
        r.inputs.get("name") or r.state.get("name"): r
        for r in _of(res, "aws:elasticache/subnetGroup:SubnetGroup")
    }

    def private_group(owner: str, groups: dict[str | None, RecordedResource], group: Any) -> None:
        sg = groups.get(group)
        if sg is None:
            out.append(_breach(owner, f"subnet group {group!r} is not one of this stack's subnet groups"))
            return
        exposed = sorted(set(sg.inputs.get("subnetIds", [])) & public)
        if exposed:
            out.append(_breach(owner, f"subnet group {sg.name} includes public subnets {exposed}"))

    for db in _of(res, "aws:rds/instance:Instance"):
        if db.inputs.get("publiclyAccessible"):
            out.append(_breach(db.name, "publicly_accessible must be false"))
        private_group(db.name, rds_groups, db.inputs.get("dbSubnetGroupName"))
    for rg in _of(res, "aws:elasticache/replicationGroup:ReplicationGroup"):
        private_group(rg.name, cache_groups, rg.inputs.get("subnetGroupName"))

    out += _private_buckets(res)
    out += _buckets_behind_cloudfront(res)
    return out


def _private_buckets(res: list[RecordedResource]) -> list[Finding]:
    """Every bucket blocks public access (all four settings) and disables ACLs."""
    out: list[Finding] = []
    blocks = _s3_configs(res, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    owners = _s3_configs(res, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    for b in _of(res, "aws:s3/bucket:Bucket"):
        block = blocks.get(b.id)
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        if block is None or not all(block.get(f) is True for f in flags):
            out.append(_breach(b.name, "public access must be blocked (all four settings)"))
        rule = (owners.get(b.id) or {}).get("rule") or {}
        if rule.get("objectOwnership") != "BucketOwnerEnforced":
            out.append(_breach(b.name, "ACLs must be disabled (BucketOwnerEnforced)"))
    return out


def _buckets_behind_cloudfront(res: list[RecordedResource]) -> list[Finding]:
    """S3 origins are reached through a sigv4 Origin Access Control, and a served bucket's policy admits
    only this stack's distributions."""
    out: list[Finding] = []
    oacs = {r.id: r.inputs for r in _of(res, "aws:cloudfront/originAccessControl:OriginAccessControl")}
    buckets = {r.state.get("bucketRegionalDomainName"): r for r in _of(res, "aws:s3/bucket:Bucket")}
    distributions = _of(res, "aws:cloudfront/distribution:Distribution")
    dist_arns = {d.state.get("arn") for d in distributions}
    for d in distributions:
        for origin in d.inputs.get("origins") or []:
            if origin.get("domainName") in buckets or ".s3." in str(origin.get("domainName")):
                oac = oacs.get(origin.get("originAccessControlId"))
                if oac is None:
                    out.append(
                        _breach(d.name, f"S3 origin {origin.get('originId')} must use Origin Access Control")
                    )
                elif (
                    oac.get("signingBehavior"),
                    oac.get("signingProtocol"),
                    oac.get("originAccessControlOriginType"),
                ) != ("always", "sigv4", "s3"):
                    out.append(_breach(d.name, "Origin Access Control must sign always with sigv4 for s3"))
    served = {
        buckets[o.get("domainName")].id
        for d in distributions
        for o in d.inputs.get("origins") or []
        if o.get("domainName") in buckets
    }
    policies = {p.inputs.get("bucket"): p for p in _of(res, "aws:s3/bucketPolicy:BucketPolicy")}
    for bucket in sorted(served):
        pol = policies.get(bucket)
        if pol is None:
            out.append(
                _breach(bucket, "a bucket served by CloudFront needs a policy limited to the distribution")
            )
            continue
        for st in _statements(_policy(pol.inputs.get("policy"))):
            if st.get("Effect") != "Allow":
                continue
            principal = st.get("Principal")
            source = ((st.get("Condition") or {}).get("StringEquals") or {}).get("AWS:SourceArn")
            sources = source if isinstance(source, list) else [source]
            if (
                principal != {"Service": "cloudfront.amazonaws.com"}
                or not sources
                or any(not isinstance(s, str) or s not in dist_arns for s in sources)
            ):
                out.append(
                    _breach(pol.name, f"allows {principal} (SourceArn {source}), not only this distribution")
                )
    return out


@_concern("tls-in-transit")
def tls_in_transit(res: list[RecordedResource]) -> list[Finding]:
    """Redis speaks TLS; viewers reach CloudFront over HTTPS; with HTTPS on the load balancer, HTTP
    only redirects; CloudFront reaches a load balancer that has TLS over HTTPS, and its viewers of the
    behaviors to the load balancer use HTTPS only."""
    out: list[Finding] = []
    for rg in _of(res, "aws:elasticache/replicationGroup:ReplicationGroup"):
        if rg.inputs.get("transitEncryptionEnabled") is not True:
            out.append(_breach(rg.name, "transit_encryption_enabled (TLS) must be true"))
    listeners = _of(res, "aws:lb/listener:Listener")
    if any(li.inputs.get("protocol") == "HTTPS" for li in listeners):
        for li in listeners:
            actions = li.inputs.get("defaultActions") or []
            if li.inputs.get("protocol") == "HTTP" and [a.get("type") for a in actions] != ["redirect"]:
                out.append(_breach(li.name, "with HTTPS configured, plain HTTP must redirect to HTTPS"))
    # A plain TCP listener of an NLB (which cannot redirect) is no-plain-http's to report.
    out += _cdn_origin_checks(res, _of(res, LOAD_BALANCER), listeners)
    for d in _of(res, "aws:cloudfront/distribution:Distribution"):
        behaviors = [
            d.inputs.get("defaultCacheBehavior") or {},
            *(d.inputs.get("orderedCacheBehaviors") or []),
        ]
        for b in behaviors:
            if b.get("viewerProtocolPolicy") not in ("redirect-to-https", "https-only"):
                out.append(_breach(d.name, f"viewers must use HTTPS (got {b.get('viewerProtocolPolicy')})"))
    return out


def _world_ports(res: list[RecordedResource]) -> dict[str, set[int | None]]:
    """Per security group: the ports it opens to the internet (``None``: every port)."""
    out: dict[str, set[int | None]] = {}
    for _name, group, rule in _ingress_rules(res):
        if (rule.get("cidrIpv4") or rule.get("cidrIpv6")) not in WORLD:
            continue
        lo, hi = _port(rule.get("fromPort")), _port(rule.get("toPort"))
        ports: set[int | None] = {None} if lo is None or hi is None or lo != hi else {lo}
        out.setdefault(group, set()).update(ports)
    return out


def _plain_ingress_sources(res: list[RecordedResource], groups: list[str], port: int | None) -> list[str]:
    """Ingress rules of ``groups`` that admit anything but a prefix list (CloudFront's origin-facing) to
    ``port`` (a rule without ports admits every port)."""
    out = []
    for name, group, rule in _ingress_rules(res):
        lo, hi = _port(rule.get("fromPort")), _port(rule.get("toPort"))
        covers = lo is None or hi is None or port is None or lo <= port <= hi
        if group in groups and covers and not rule.get("prefixListId"):
            out.append(".".join(filter(None, name)))
    return out


def _rules_of(res: list[RecordedResource], listener: RecordedResource) -> list[RecordedResource]:
    arns = {listener.id, listener.state.get("arn")}
    return [r for r in _of(res, "aws:lb/listenerRule:ListenerRule") if r.inputs.get("listenerArn") in arns]


def _action_types(actions: Any) -> list[Any]:
    return [a.get("type") for a in actions or [] if isinstance(a, dict)]


@_concern("no-plain-http")
def no_plain_http(res: list[RecordedResource]) -> list[Finding]:
    """No public endpoint serves plain HTTP other than a redirect to HTTPS: a plaintext listener the
    internet reaches only redirects (its rules too); a plaintext listener without a certificate is no
    public endpoint: its load balancer admits only prefix lists (CloudFront's origin-facing), refuses by
    default and forwards only requests with the origin header, which CloudFront's origin sends."""
    out: list[Finding] = []
    world = _world_ports(res)
    gated_dns: set[Any] = set()
    for lb in _of(res, LOAD_BALANCER):
        if lb.inputs.get("internal") is True:
            continue
        groups = list(lb.inputs.get("securityGroups") or [])
        open_ports = set().union(*(world.get(g, set()) for g in groups)) if groups else {None}
        for li in _listeners_of(res, lb):
            protocol, port = li.inputs.get("protocol"), _port(li.inputs.get("port"))
            if protocol in ("HTTPS", "TLS"):
                continue
            rules = _rules_of(res, li)
            served = [t for t in _action_types(li.inputs.get("defaultActions")) if t != "redirect"]
            served += [t for r in rules for t in _action_types(r.inputs.get("actions")) if t != "redirect"]
            if port in open_ports or None in open_ports:
                if served:
                    what = ", ".join(map(str, served))
                    out.append(
                        _breach(
                            li.name,
                            f"plain {protocol} on port {port} is open to the internet and serves ({what});"
                            " only a redirect to HTTPS may listen in plaintext",
                        )
                    )
                continue
            if protocol != "HTTP":
                out.append(_breach(li.name, f"plain {protocol} listener: clients cannot verify it, use TLS"))
                continue
            if _action_types(li.inputs.get("defaultActions")) not in (["fixed-response"], ["redirect"]):
                out.append(
                    _breach(li.name, "a plaintext origin listener must refuse by default (fixed-response)")
                )
            for rule in rules:
                headers = [c for c in rule.inputs.get("conditions") or [] if c.get("httpHeader")]
                if "forward" in _action_types(rule.inputs.get("actions")) and not headers:
                    out.append(
                        _breach(rule.name, "forwards plaintext requests without the origin header condition")
                    )
            plain = _plain_ingress_sources(res, groups, port)
            if plain:
                out.append(
                    _breach(
                        li.name,
                        "plaintext origin listener, but its load balancer admits more than CloudFront's"
                        f" prefix list ({', '.join(plain)})",
                    )
                )
            gated_dns.add(lb.state.get("dnsName"))
    for d in _of(res, "aws:cloudfront/distribution:Distribution"):
        for origin in d.inputs.get("origins") or []:
            config = origin.get("customOriginConfig") or {}
            plain_hop = config.get("originProtocolPolicy") != "https-only"
            if origin.get("domainName") in gated_dns and plain_hop and not origin.get("customHeaders"):
                out.append(
                    _breach(
                        d.name,
                        f"origin {origin.get('originId')} reaches a plaintext origin listener without the"
                        " origin header",
                    )
                )
    return out


def _cdn_origin_checks(
    res: list[RecordedResource], lbs: list[RecordedResource], listeners: list[RecordedResource]
) -> list[Finding]:
    """Load balancer origins (``/ws`` through CloudFront): HTTPS from viewers, and to a load balancer that
    has TLS."""
    out: list[Finding] = []
    lb_names = {lb.state.get("dnsName") for lb in lbs} - {None}
    lb_has_tls = any(li.inputs.get("protocol") in ("HTTPS", "TLS") for li in listeners)
    with_tls = [
        lb
        for lb in lbs
        if any(li.inputs.get("protocol") in ("HTTPS", "TLS") for li in _listeners_of(res, lb))
    ]
    # a VPC origin names its load balancer by ARN: only that one's listeners decide
    vpc_origins = {
        vo.id: vo.inputs.get("vpcOriginEndpointConfig") or {}
        for vo in _of(res, "aws:cloudfront/vpcOrigin:VpcOrigin")
    }
    tls_arns = {a for lb in with_tls for a in (lb.id, lb.state.get("arn"))}
    for d in _of(res, "aws:cloudfront/distribution:Distribution"):
        # the load balancer's origins: by its public name, or (internal) through a VPC origin
        custom = {
            o.get("originId"): o
            for o in d.inputs.get("origins") or []
            if o.get("customOriginConfig") is not None or o.get("vpcOriginConfig") is not None
        }
        for b in d.inputs.get("orderedCacheBehaviors") or []:
            if b.get("targetOriginId") in custom and b.get("viewerProtocolPolicy") != "https-only":
                out.append(
                    _breach(
                        d.name,
                        f"behavior {b.get('pathPattern')} to the load balancer must be https-only"
                        f" (got {b.get('viewerProtocolPolicy')})",
                    )
                )
        for origin in custom.values():
            if not lb_has_tls:
                # nothing to breach: a preview decides without the VPC origin's id (known after deploy)
                break
            policy = (origin.get("customOriginConfig") or {}).get("originProtocolPolicy")
            vpc = (origin.get("vpcOriginConfig") or {}).get("vpcOriginId")
            if vpc in vpc_origins:
                policy = vpc_origins[vpc].get("originProtocolPolicy")
                if vpc_origins[vpc].get("arn") not in tls_arns:
                    continue
            # the domain name last: a load balancer's is known only after deploy, and a preview can
            # decide without it when no load balancer has TLS or the origin is https-only anyway
            if lb_has_tls and policy != "https-only" and origin.get("domainName") in lb_names:
                out.append(
                    _breach(
                        d.name,
                        f"origin {origin.get('originId')} reaches a load balancer that has TLS over"
                        f" {policy}; it must be https-only",
                    )
                )
    return out


@_concern("cloudfront-web-acl")
def cloudfront_web_acl(res: list[RecordedResource]) -> list[Finding]:
    """A CloudFront web ACL lives in us-east-1 (the only region AWS WAF takes it in), and a distribution
    on a flat-rate plan is protected by the web ACL that plan covers."""
    out: list[Finding] = []
    wafs = {w.state.get("arn"): w for w in _of(res, "aws:wafv2/webAcl:WebAcl")}
    for w in wafs.values():
        if w.inputs.get("scope") == "CLOUDFRONT" and w.region != CLOUDFRONT_WAF_REGION:
            out.append(
                _breach(
                    w.name,
                    f"a CLOUDFRONT web ACL must be created in {CLOUDFRONT_WAF_REGION} (got {w.region})",
                )
            )
    for d in _of(res, "aws:cloudfront/distribution:Distribution"):
        arns = {d.state.get("arn"), d.id}
        for sub in _of(res, "aws:pricingplanmanager/subscription:Subscription"):
            covered = set(sub.inputs.get("resourceArns") or [])
            if not covered & arns:
                continue
            acls = sorted(str(a) for a in covered if a in wafs)
            if d.inputs.get("webAclId") not in acls:
                out.append(
                    _breach(
                        d.name,
                        f"protected by {d.inputs.get('webAclId')}, not the web ACL its flat-rate plan"
                        f" {sub.name} covers ({acls})",
                    )
                )
    return out


@_concern("backups")
def backups(res: list[RecordedResource]) -> list[Finding]:
    """The database keeps automated backups and takes a final snapshot on delete (replicas have neither:
    RDS keeps them for the primary)."""
    out: list[Finding] = []
    for db in _of(res, "aws:rds/instance:Instance"):
        i = db.inputs
        if i.get("replicateSourceDb"):
            continue
        if int(i.get("backupRetentionPeriod") or 0) < 1:
            out.append(_breach(db.name, "automated backups must be kept (backup_retention_period >= 1 day)"))
        if i.get("skipFinalSnapshot") or not i.get("finalSnapshotIdentifier"):
            out.append(_breach(db.name, "a final snapshot must be taken on delete"))
    return out


@_concern("least-privilege")
def least_privilege(res: list[RecordedResource]) -> list[Finding]:
    """Instance role policies name their actions and resources (no wildcards but the metric namespace)."""
    out: list[Finding] = []
    for pol in _of(res, "aws:iam/rolePolicy:RolePolicy"):
        for st in _statements(_policy(pol.inputs.get("policy"))):
            if st.get("Effect") != "Allow":
                continue
            actions = _as_list(st.get("Action", []))
            resources = _as_list(st.get("Resource", []))
            if any(a == "*" or a.endswith(":*") for a in actions):
                out.append(_breach(pol.name, f"wildcard action {actions}"))
            if "*" in resources and not (actions == ["cloudwatch:PutMetricData"] and st.get("Condition")):
                out.append(_breach(pol.name, f"{actions} on every resource ('*')"))
    return out


@_concern("no-plaintext-secrets")
def no_plaintext_secrets(res: list[RecordedResource]) -> list[Finding]:
    """No password input anywhere; generated secrets only where they belong; user data holds none; the
    database's master password is RDS-managed and Redis clients authenticate."""
    out: list[Finding] = []
    for db in _of(res, "aws:rds/instance:Instance"):
        replica = bool(db.inputs.get("replicateSourceDb"))
        if not replica and db.inputs.get("manageMasterUserPassword") is not True:
            out.append(
                _breach(db.name, "the master password must be RDS-managed (manage_master_user_password)")
            )
    for rg in _of(res, "aws:elasticache/replicationGroup:ReplicationGroup"):
        if not rg.inputs.get("authToken") and not rg.inputs.get("userGroupIds"):
            out.append(_breach(rg.name, "clients must authenticate (auth_token or user groups)"))
    generated = [
        str(r.state.get("result"))
        for r in _of(res, "random:index/randomPassword:RandomPassword")
        if r.state.get("result")
    ]
    for r in res:
        for key in PASSWORD_KEYS:
            if r.inputs.get(key):
                out.append(_breach(r.name, f"input {key} puts a password into config/state"))
        for key, value in r.inputs.items():
            allowed = (r.type, key) in SECRET_CONSUMERS
            if _is_secret(value) and not allowed:
                out.append(_breach(r.name, f"input {key} is derived from a secret"))
            for path, text in _strings(value, key):
                if not allowed and any(g in text for g in generated):
                    out.append(_breach(r.name, f"{path} contains a generated secret value"))
    for lt in _of(res, LAUNCH_TEMPLATE):
        raw = lt.inputs.get("userData")
        if not isinstance(raw, str):
            continue
        try:
            script = base64.b64decode(raw).decode()
        except ValueError:
            script = raw
        if any(g in script for g in generated):
            out.append(_breach(lt.name, "user data contains a generated secret value"))
        for line in script.splitlines():
            if CLEAR_SECRET.search(line) or URL_CREDENTIALS.search(line):
                out.append(_breach(lt.name, f"user data sets a credential in clear: {line.strip()[:60]}"))
    return out


@_concern("cost-allocation-tags")
def tag_violations(resources: Iterable[RecordedResource]) -> list[Finding]:
    """Cost allocation tags (project, phase, tier, cost-center) on every taggable resource."""
    out: list[Finding] = []
    for r in resources:
        if not r.custom or r.type in UNTAGGABLE_TYPES:
            continue
        if r.type == "aws:autoscaling/group:Group":  # a list; only propagated tags reach the instances
            tags = {
                t.get("key"): t.get("value") for t in r.inputs.get("tags") or [] if t.get("propagateAtLaunch")
            }
        else:
            tags = r.inputs.get("tags") or {}
        missing = [k for k in REQUIRED_TAG_KEYS if not tags.get(k)]
        if missing:
            out.append(_breach(r.name, f"missing tags {missing} ({r.type})"))
        elif tags.get("tier") != r.tier:
            out.append(
                _breach(r.name, f"tag tier={tags.get('tier')!r} but the resource belongs to {r.tier!r}")
            )
    return out


#: The baseline by concern, in the order they are declared above. The policy pack (``policy/``) enforces
#: each entry as one named policy; the infrastructure tests run them all through :func:`violations`. A new
#: check belongs in one of these.
CHECKS: dict[str, Check] = dict(_REGISTERED)
#: Each concern's severity: what its findings carry, and the level the policy pack enforces it at.
SEVERITY: dict[str, Severity] = dict(_SEVERITIES)


def violations(resources: Iterable[RecordedResource]) -> list[Finding]:
    """Every breach of the security baseline in ``resources`` (one finding each, naming the resource)."""
    res = list(resources)
    return [finding for check in CHECKS.values() for finding in check(res)]
