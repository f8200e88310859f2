"""The security baseline as CrossGuard policies: one named policy per concern of
``components/planning/baseline.py`` (its :data:`~components.planning.baseline.CHECKS`).

Each policy runs that concern's function on the engine's resources and reports every line it returns,
attached to the resource the line names. The checks are relational (a security group is "the load
balancer's" because the load balancer names it; a subnet is public because its route table reaches an
internet gateway), so each policy validates the stack, where every resource and its dependencies are
visible, rather than one resource at a time.

In a preview, links to resources not created yet are followed through the engine's property dependencies
(:func:`policy.resources.recorded_resources`). A check that still has to read a value unknown until deploy
raises :class:`~pulumi_policy.proxy.UnknownValueError`; the SDK then reports the policy as not decidable
during the preview (advisory), and the stack validation after the update decides it on deployed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidation,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.planning.baseline import CHECKS, SEVERITY, Finding
from components.planning.mocks import RecordedResource
from policy.resources import from_policy_resources, recorded_resources


@dataclass(frozen=True)
class Concern:
    """One baseline concern as a policy: the check's key in ``CHECKS`` and what the policy says."""

    check: str
    name: str
    description: str
    remediation: str

    @property
    def enforcement_level(self) -> EnforcementLevel:
        """The level the baseline gives the concern (its findings' ``severity``), not a second setting."""
        mandatory = SEVERITY[self.check] == "mandatory"
        return EnforcementLevel.MANDATORY if mandatory else EnforcementLevel.ADVISORY


CONCERNS: tuple[Concern, ...] = (
    Concern(
        "encryption-at-rest",
        "stars-encryption-at-rest",
        "Data is encrypted at rest: RDS storage, ElastiCache, EBS volumes of the launch templates, S3.",
        "Set storage_encrypted, at_rest_encryption_enabled, encrypted EBS block device mappings and a"
        " bucket server-side encryption configuration (AES256 or aws:kms).",
    ),
    Concern(
        "no-public-ingress",
        "stars-no-public-ingress",
        "No 0.0.0.0/0 ingress but tcp 80/443 on the load balancer (on an NLB also its realtime listener"
        " port, 8080 or 8443), and an ALB drops invalid headers; servers admit only the load balancer and"
        " sit in private subnets, or with a public IPv4 each (private_egress: public) in security groups"
        " that admit nothing from the internet; the default security group is closed.",
        "Move world-open rules to the load balancer's security group (80/443, or the NLB's realtime"
        " listener port), reference the load balancer's group from the app groups, keep public servers"
        " out of the load balancer's group, and adopt the default security group with no rules.",
    ),
    Concern(
        "imdsv2",
        "stars-imdsv2",
        "Instances require IMDSv2 session tokens with a hop limit of at most 2.",
        "Set metadata_options.http_tokens = required and http_put_response_hop_limit <= 2.",
    ),
    Concern(
        "private-data-stores",
        "stars-private-data-stores",
        "Databases and caches are private (private subnets, reachable only from the app security groups);"
        " S3 blocks public access and ACLs and is read only by this stack's CloudFront through Origin"
        " Access Control.",
        "Use private subnet groups, publicly_accessible = false, data security groups that admit only"
        " the app groups; block S3 public access, enforce bucket ownership, serve through an OAC and a"
        " bucket policy limited to the distribution.",
    ),
    Concern(
        "tls-in-transit",
        "stars-tls-in-transit",
        "Traffic is encrypted in transit: Redis over TLS, viewers over HTTPS at CloudFront (https-only on"
        " the load balancer's paths), plain HTTP only redirecting once the load balancer serves HTTPS,"
        " and CloudFront reaching a TLS load balancer over HTTPS.",
        "Set transit_encryption_enabled, viewer_protocol_policy redirect-to-https (https-only for a"
        " load balancer origin), an HTTP listener whose only action redirects to HTTPS, and"
        " origin_protocol_policy https-only to a load balancer with TLS.",
    ),
    Concern(
        "no-plain-http",
        "stars-no-plain-http",
        "No public endpoint serves plain HTTP other than a redirect to HTTPS: a plaintext listener the"
        " internet reaches only redirects; a load balancer without a certificate admits only CloudFront's"
        " origin-facing prefix list, refuses by default and forwards only requests carrying the origin"
        " header its CloudFront origin sends; an NLB listens in TLS only.",
        "Name stars:loadBalancer.domain (an ACM certificate, HTTPS 443, HTTP 80 redirecting), or set"
        " stars:loadBalancer.origin vpc_origin (an internal load balancer CloudFront reaches through a"
        " VPC origin), or put CloudFront in front: ingress only from"
        " com.amazonaws.global.cloudfront.origin-facing, a 403 default action, forward rules conditioned"
        " on the origin header, the header on the origin.",
    ),
    Concern(
        "cloudfront-web-acl",
        "stars-cloudfront-web-acl",
        "A CloudFront-scoped AWS WAF web ACL is created in us-east-1 (its provider's region), and a"
        " distribution on a flat-rate plan is protected by the web ACL that plan covers.",
        "Create CLOUDFRONT web ACLs with an explicit us-east-1 provider, and set the distribution's"
        " web_acl_id to the web ACL in the plan's resource_arns.",
    ),
    Concern(
        "backups",
        "stars-backups",
        "The database keeps automated backups and takes a final snapshot before it is deleted.",
        "Set backup_retention_period >= 1, skip_final_snapshot = false and a final_snapshot_identifier.",
    ),
    Concern(
        "no-plaintext-secrets",
        "stars-no-plaintext-secrets",
        "No password in config, state or user data: RDS manages the master password, Redis clients"
        " authenticate, generated secrets appear only in their secret.",
        "Use manage_master_user_password, an auth token from a generated secret, and pass secrets to"
        " servers by ARN (they read them from Secrets Manager at boot).",
    ),
    Concern(
        "least-privilege",
        "stars-least-privilege-iam",
        "Instance role policies name their actions and resources: no wildcard actions, no '*' resource"
        " (except PutMetricData limited by a condition).",
        "List the actions and resource ARNs each role needs.",
    ),
    Concern(
        "cost-allocation-tags",
        "stars-cost-allocation-tags",
        "Every taggable resource carries the cost allocation tags project, phase, tier and cost-center,"
        " with the tier it belongs to (auto-scaling groups propagate them to their instances).",
        "Add the four tags (components/tagging.py builds them); propagate_at_launch on group tags.",
    ),
)


def urn_of(finding: Finding, records: Sequence[RecordedResource]) -> str | None:
    """The URN of the resource a finding names (by logical name, or by id for a bucket), else None."""
    return next((r.urn for r in records if finding.resource in (r.name, r.id)), None)


def findings(check: str, resources: Sequence[PolicyResource]) -> list[tuple[Finding, str | None]]:
    """(finding, URN) for every breach one concern finds among the engine's resources."""
    records = recorded_resources(from_policy_resources(resources))
    return [(finding, urn_of(finding, records)) for finding in CHECKS[check](records)]


def _validator(concern: Concern) -> StackValidation:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for finding, urn in findings(concern.check, args.resources):
            report_violation(str(finding), urn)

    validate.__doc__ = f"``{concern.name}``: the baseline's '{concern.check}' checks."
    return validate


def policies() -> list[StackValidationPolicy]:
    return [
        StackValidationPolicy(
            name=c.name,
            description=c.description,
            validate=_validator(c),
            enforcement_level=c.enforcement_level,
            remediation_steps=c.remediation,
            tags=["security", "baseline"],
        )
        for c in CONCERNS
    ]
