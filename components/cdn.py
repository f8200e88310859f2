"""Storage and CDN tier: a private S3 bucket served by CloudFront through Origin Access Control.

The bucket is never public: all four public-access blocks are on, ACLs are disabled (bucket owner
enforced), and its policy lets only the assets distributions read (``AWS:SourceArn``) and refuses plain HTTP.

Options: ``/ws`` through the distribution to the load balancer (a second, custom origin that caches nothing
and forwards every viewer header, so the WebSocket upgrade reaches the servers), and a CloudFront
flat-rate pricing plan: a subscription that covers the distribution and its AWS WAF web ACL, both in
us-east-1 through an explicit provider (CloudFront's WAF scope and the plan API live only there).

Flat-rate plans are per distribution (pricing-levers.md section 1), so two more options mix them:
``asset_distributions`` serves the same assets from N distributions, each on its own plan (two Business
plans carry 250 M requests for USD 400 where one Premium carries 500 M for USD 1,000; the site spreads its
asset links over their names), and ``dynamic_distribution`` puts ``/ws`` (and, without a certificate on
the load balancer, the API) on a separate pay-as-you-go distribution, so the assets can be on a plan while
the WebSockets, which no source says a plan carries, stay pay as you go.

An internal load balancer (``stars:loadBalancer.origin: vpc_origin``) is reached through a CloudFront VPC
origin: one ``VpcOrigin`` resource names the load balancer's ARN and port, and the distributions' load
balancer origin points at it (``vpc_origin_config``) instead of a public DNS name. The hop is HTTP inside
the VPC (the load balancer has no certificate and no public endpoint); viewers still speak only HTTPS/WSS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

import pulumi
import pulumi_aws as aws

from components.config import MANAGED_CACHE_POLICY_TTL, CdnConfig
from components.edge import ORIGIN_HEADER, WEBSOCKET_PATHS
from components.tagging import PURCHASE_TAG, SAVINGS_BUNDLE, TRAFFIC_TAG, tier_tags

#: AWS managed cache policy "CachingOptimized" (gzip + brotli keys, default TTL 1 day).
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_OPTIMIZED_DEFAULT_TTL = MANAGED_CACHE_POLICY_TTL
#: AWS managed cache policy "CachingDisabled" and origin request policy "AllViewer" (every viewer header,
#: cookie and query string, so Upgrade, Sec-WebSocket-Key and Sec-WebSocket-Version reach the origin).
CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_ORIGIN_REQUEST_POLICY_ID = "216adef6-5c7f-47e4-b989-5492eafa07d3"
ORIGIN_ID = "s3-assets"
WEBSOCKET_ORIGIN_ID = "load-balancer-ws"
#: CloudFront pricing plan tiers (stars:cdn.plan -> PricingPlanManager plan_tier).
PLAN_TIERS = {"free": "FREE", "pro": "PRO", "business": "BUSINESS", "premium": "PREMIUM"}
#: CloudFront-scoped AWS WAF resources and the PricingPlanManager API exist only in us-east-1.
PLAN_REGION = "us-east-1"
#: AWS managed rule groups in the plan's web ACL (none of the rule groups flat-rate plans exclude).
WAF_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesCommonRuleSet",
)
#: CloudFront reads only this prefix of the bucket (the runtime release lives outside it).
PUBLIC_PREFIX = "public"


#: What every distribution of the stack offers viewers: IPv6, HTTP/2 and 3, CloudFront's own certificate
#: (TLS without a domain), no geographic restriction.
VIEWER_SIDE: dict[str, Any] = {
    "enabled": True,
    "is_ipv6_enabled": True,
    "http_version": "http2and3",
    "restrictions": {"geo_restriction": {"restriction_type": "none"}},
    "viewer_certificate": {"cloudfront_default_certificate": True},
}


#: What the distribution sends to a certificate-less load balancer besides ``/ws``: the runtime's API
#: and token paths (runtime/app.py); health, readiness and metrics stay inside the VPC.
API_PATHS = ("/api/*", "/demo/token")


@dataclass
class WebSocketOrigin:
    """The load balancer behind ``/ws``: its DNS name, the port serving ``/ws``, and whether it has TLS.

    ``origin_secret`` (no TLS): CloudFront carries the API too and sends this header value, the only
    requests the load balancer forwards (components/edge.py)."""

    domain_name: pulumi.Input[str]
    port: int
    https: bool
    origin_secret: pulumi.Input[str] | None = None
    #: The internal load balancer's ARN: CloudFront reaches it through a VPC origin (no public endpoint).
    vpc_origin_arn: pulumi.Input[str] | None = None


@dataclass
class CdnArgs:
    """Inputs of :class:`Cdn` (from ``stars:cdn``; ``websocket_origin`` from ``stars:loadBalancer``)."""

    config: CdnConfig
    websocket_origin: WebSocketOrigin | None = None
    tags: dict[str, str] = field(default_factory=dict)


def websocket_behaviors(api: bool = False) -> list[aws.cloudfront.DistributionOrderedCacheBehaviorArgsDict]:
    """Cache behaviors for ``/ws`` (and with ``api`` the API paths): HTTPS viewers only, nothing cached,
    every viewer header forwarded; API paths allow every method (the runtime's POST)."""
    paths = [*WEBSOCKET_PATHS, *(API_PATHS if api else ())]
    return [
        {
            "path_pattern": path,
            "target_origin_id": WEBSOCKET_ORIGIN_ID,
            "viewer_protocol_policy": "https-only",
            "allowed_methods": (
                ["GET", "HEAD", "OPTIONS"]
                if path in WEBSOCKET_PATHS
                else ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
            ),
            "cached_methods": ["GET", "HEAD"],
            "compress": path not in WEBSOCKET_PATHS,
            "cache_policy_id": CACHING_DISABLED_POLICY_ID,
            "origin_request_policy_id": ALL_VIEWER_ORIGIN_REQUEST_POLICY_ID,
        }
        for path in paths
    ]


class _OriginHeaders(TypedDict, total=False):
    custom_headers: list[aws.cloudfront.DistributionOriginCustomHeaderArgsDict]


def websocket_custom_origin(
    origin: WebSocketOrigin, vpc_origin_id: pulumi.Input[str] | None = None
) -> aws.cloudfront.DistributionOriginArgsDict:
    """The load balancer as a custom origin: HTTPS only when it has a certificate; else HTTP only (no
    certificate to verify), with the secret header the load balancer requires; or, internal, through the
    VPC origin ``vpc_origin_id``."""
    headers: list[aws.cloudfront.DistributionOriginCustomHeaderArgsDict] = (
        [{"name": ORIGIN_HEADER, "value": origin.origin_secret}] if origin.origin_secret is not None else []
    )
    with_headers: _OriginHeaders = {"custom_headers": headers} if headers else {}
    if vpc_origin_id is not None:
        return {
            "domain_name": origin.domain_name,
            "origin_id": WEBSOCKET_ORIGIN_ID,
            "vpc_origin_config": {
                "vpc_origin_id": vpc_origin_id,
                "origin_keepalive_timeout": 60,
                "origin_read_timeout": 60,
            },
        }
    return {
        "domain_name": origin.domain_name,
        "origin_id": WEBSOCKET_ORIGIN_ID,
        **with_headers,
        "custom_origin_config": {
            "http_port": origin.port if not origin.https else 80,
            "https_port": origin.port if origin.https else 443,
            "origin_protocol_policy": "https-only" if origin.https else "http-only",
            "origin_ssl_protocols": ["TLSv1.2"],
            # CloudFront's WebSocket idle limit is fixed at 10 minutes; the runtime pings every 20 s.
            "origin_keepalive_timeout": 60,
            "origin_read_timeout": 60,
        },
    }


def _lifecycle_rules(cfg: CdnConfig) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """Abort stale multipart uploads always; tier large objects and expire old versions when enabled."""
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
    ]
    if cfg.intelligent_tiering:
        # Only the automatic access tiers (no archive tiers): every object stays instantly readable
        # by CloudFront. Objects under 128 KB are never moved by S3 and are not charged monitoring.
        rules.append(
            {
                "id": "intelligent-tiering",
                "status": "Enabled",
                "filter": {"object_size_greater_than": 131072},
                "transitions": [{"days": 0, "storage_class": "INTELLIGENT_TIERING"}],
            }
        )
    if cfg.versioning:
        rules.append(
            {
                "id": "expire-old-versions",
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": 30},
            }
        )
    return rules


class Cdn(pulumi.ComponentResource):
    """Bucket (+ encryption, ownership, public access block, tiering) and the CloudFront distribution."""

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Cdn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        tags = tier_tags(args.tags, name)

        self.bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=False, tags=tags, opts=child)
        self._private_bucket(name, cfg)
        self.oac = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            description="STARS assets bucket, signed requests only",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        cache_policy_id = self._cache_policy_id(name, cfg, child)
        self.vpc_origin = self._vpc_origin(name, args.websocket_origin, tags)
        self.us_east_1: aws.Provider | None = None
        if cfg.plan != "pay_as_you_go":
            self.us_east_1 = aws.Provider(f"{name}-{PLAN_REGION}", region=PLAN_REGION, opts=child)
        ws_on_assets = args.websocket_origin if not cfg.dynamic_distribution else None
        self._asset_distributions(name, cfg, tags, cache_policy_id, ws_on_assets)
        self.distribution = self.distributions[0]
        self.web_acl = self.web_acls[0] if self.web_acls else None
        self.subscription = self.subscriptions[0] if self.subscriptions else None
        self.dynamic: aws.cloudfront.Distribution | None = None
        dynamic_origin = args.websocket_origin if cfg.dynamic_distribution else None
        if dynamic_origin is not None:
            self.dynamic = self._dynamic_distribution(name, dynamic_origin, cfg, tags)
        self.bucket_policy = self._bucket_policy(name)

        self.bucket_name = self.bucket.bucket
        self.domain_name = self.distribution.domain_name
        #: The names viewers reach /ws (and the API) at: the dynamic distribution's when there is one.
        self.dynamic_domain_name = (self.dynamic or self.distribution).domain_name
        self.asset_domain_names = [d.domain_name for d in self.distributions]
        self.register_outputs(
            {
                "bucket": self.bucket.bucket,
                "distribution_id": self.distribution.id,
                "domain_name": self.distribution.domain_name,
                "asset_domain_names": self.asset_domain_names,
                "dynamic_domain_name": self.dynamic_domain_name,
            }
        )

    def _vpc_origin(
        self, name: str, origin: WebSocketOrigin | None, tags: dict[str, str]
    ) -> aws.cloudfront.VpcOrigin | None:
        """CloudFront's way into the VPC to an internal load balancer: HTTP to its listener port (it has no
        certificate; the hop stays inside AWS's network), no public endpoint on the way."""
        self._vpc_origin_id: pulumi.Input[str] | None = None
        if origin is None or origin.vpc_origin_arn is None:
            return None
        vpc_origin = aws.cloudfront.VpcOrigin(
            f"{name}-vpc-origin",
            vpc_origin_endpoint_config={
                "name": f"stars-{tags.get('stack', name)}-load-balancer",
                "arn": origin.vpc_origin_arn,
                "http_port": origin.port,
                "https_port": 443,
                "origin_protocol_policy": "http-only",
                # required by the API even for http-only
                "origin_ssl_protocols": {"items": ["TLSv1.2"], "quantity": 1},
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._vpc_origin_id = vpc_origin.id
        return vpc_origin

    def _private_bucket(self, name: str, cfg: CdnConfig) -> None:
        """The bucket's guards and upkeep: no public access, no ACLs, encryption at rest, (optionally)
        versions, and the lifecycle that aborts stale uploads, tiers large objects and expires old
        versions."""
        bucket_child = pulumi.ResourceOptions(parent=self.bucket)
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=bucket_child,
        )
        # SSE-S3: free, and CloudFront's OAC reads it without a KMS key policy.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=bucket_child,
        )
        if cfg.versioning:
            aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=self.bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=bucket_child,
            )
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id, rules=_lifecycle_rules(cfg), opts=bucket_child
        )

    @staticmethod
    def _cache_policy_id(name: str, cfg: CdnConfig, child: pulumi.ResourceOptions) -> pulumi.Input[str]:
        """AWS's managed CachingOptimized at its own TTL; for another TTL, a policy of ours like it."""
        if cfg.default_ttl_seconds == CACHING_OPTIMIZED_DEFAULT_TTL:
            return CACHING_OPTIMIZED_POLICY_ID
        policy = aws.cloudfront.CachePolicy(
            f"{name}-cache-policy",
            comment="STARS assets: compressed, no cookies/headers/query strings in the key",
            default_ttl=cfg.default_ttl_seconds,
            min_ttl=1,
            max_ttl=max(31536000, cfg.default_ttl_seconds),
            parameters_in_cache_key_and_forwarded_to_origin={
                "enable_accept_encoding_gzip": True,
                "enable_accept_encoding_brotli": True,
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {"header_behavior": "none"},
                "query_strings_config": {"query_string_behavior": "none"},
            },
            opts=child,
        )
        return policy.id

    def _asset_distributions(
        self,
        name: str,
        cfg: CdnConfig,
        tags: dict[str, str],
        cache_policy_id: pulumi.Input[str],
        ws_on_assets: WebSocketOrigin | None,
    ) -> None:
        """``asset_distributions`` distributions of the bucket (with ``/ws`` when no dynamic distribution
        carries it), each with its own web ACL and flat-rate plan when the stack has one."""
        origins: list[aws.cloudfront.DistributionOriginArgsDict] = [
            {
                "domain_name": self.bucket.bucket_regional_domain_name,
                "origin_id": ORIGIN_ID,
                "origin_path": f"/{PUBLIC_PREFIX}",
                "origin_access_control_id": self.oac.id,
            }
        ]
        self.web_acls: list[aws.wafv2.WebAcl] = []
        self.subscriptions: list[aws.pricingplanmanager.Subscription] = []
        self.distributions: list[aws.cloudfront.Distribution] = []
        for index in range(cfg.asset_distributions):
            # The first keeps the names of a one-distribution stack (no replacement when more are added).
            suffix = "" if index == 0 else f"-{index + 1}"
            extra: dict[str, Any] = {}
            assets_origins = list(origins)
            if ws_on_assets is not None:
                assets_origins.append(websocket_custom_origin(ws_on_assets, self._vpc_origin_id))
                extra["ordered_cache_behaviors"] = websocket_behaviors(api=not ws_on_assets.https)
            web_acl = None
            if self.us_east_1 is not None:
                web_acl = self._web_acl(f"{name}{suffix}", tags)
                self.web_acls.append(web_acl)
                extra["web_acl_id"] = web_acl.arn
            distribution = aws.cloudfront.Distribution(
                f"{name}-distribution{suffix}",
                comment="STARS static assets and uploads",
                price_class=cfg.price_class,
                origins=assets_origins,
                default_cache_behavior={
                    "target_origin_id": ORIGIN_ID,
                    "viewer_protocol_policy": "redirect-to-https",
                    "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                    "cached_methods": ["GET", "HEAD"],
                    "compress": True,
                    "cache_policy_id": cache_policy_id,
                },
                tags=self._tags(tags, "assets", cfg),
                opts=pulumi.ResourceOptions(parent=self),
                **VIEWER_SIDE,
                **extra,
            )
            self.distributions.append(distribution)
            if web_acl is not None:
                self._plan(f"{name}-plan{suffix}", cfg, distribution, web_acl)

    def _plan(
        self, name: str, cfg: CdnConfig, distribution: aws.cloudfront.Distribution, web_acl: aws.wafv2.WebAcl
    ) -> None:
        """The flat-rate plan's subscription, covering one distribution and its web ACL.

        A paid tier bills from creation (IMMEDIATE): the budget check priced the plan before deploy, and
        until a MANUAL subscription is approved the distribution would bill pay-as-you-go."""
        self.subscriptions.append(
            aws.pricingplanmanager.Subscription(
                name,
                plan_family="CloudFront",
                plan_tier=PLAN_TIERS[cfg.plan],
                resource_arns=[distribution.arn, web_acl.arn],
                usage_level="DEFAULT",
                approval_mode="IMMEDIATE",
                opts=pulumi.ResourceOptions(parent=self, provider=self.us_east_1),
            )
        )

    def _bucket_policy(self, name: str) -> aws.s3.BucketPolicy:
        """Only the asset distributions may read, only under the public prefix; plain HTTP is refused."""
        return aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, *(d.arn for d in self.distributions)).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "CloudFrontReadOnly",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                "Action": "s3:GetObject",
                                "Resource": f"{v[0]}/{PUBLIC_PREFIX}/*",
                                "Condition": {
                                    "StringEquals": {"AWS:SourceArn": v[1] if len(v) == 2 else v[1:]}
                                },
                            },
                            {
                                "Sid": "DenyPlainHttp",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [v[0], f"{v[0]}/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            },
                        ],
                    },
                    sort_keys=True,
                )
            ),
            opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=[self.public_access_block]),
        )

    @staticmethod
    def _tags(tags: dict[str, str], traffic: str, cfg: CdnConfig) -> dict[str, str]:
        """The distribution's ``traffic`` tag (what the budget rules price it with: the assets' share or the
        dynamic figures) and, on a pay-as-you-go distribution, the Security Savings Bundle's purchase."""
        pay_as_you_go = traffic == "dynamic" or cfg.plan == "pay_as_you_go"
        bundle = {PURCHASE_TAG: SAVINGS_BUNDLE} if cfg.savings_bundle and pay_as_you_go else {}
        return {**tags, TRAFFIC_TAG: traffic, **bundle}

    def _dynamic_distribution(
        self, name: str, origin: WebSocketOrigin, cfg: CdnConfig, tags: dict[str, str]
    ) -> aws.cloudfront.Distribution:
        """Pay as you go, nothing cached: /ws (and without a certificate the API) to the load balancer."""
        behaviors = websocket_behaviors(api=not origin.https)
        default: dict[str, Any] = {**behaviors[-1]}
        default.pop("path_pattern")
        default["allowed_methods"] = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
        default["compress"] = True
        return aws.cloudfront.Distribution(
            f"{name}-dynamic",
            comment="STARS WebSockets and API (pay as you go, nothing cached)",
            price_class=cfg.price_class,
            origins=[websocket_custom_origin(origin, self._vpc_origin_id)],
            # an ordered behavior without its path pattern: the default behavior's keys
            default_cache_behavior=cast(aws.cloudfront.DistributionDefaultCacheBehaviorArgsDict, default),
            ordered_cache_behaviors=behaviors,
            tags=self._tags(tags, "dynamic", cfg),
            **VIEWER_SIDE,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _web_acl(self, name: str, tags: dict[str, str]) -> aws.wafv2.WebAcl:
        """The web ACL a flat-rate plan requires: allow by default, a few AWS managed rule groups."""

        def visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
            return {
                "cloudwatch_metrics_enabled": True,
                "metric_name": metric,
                "sampled_requests_enabled": True,
            }

        return aws.wafv2.WebAcl(
            f"{name}-waf",
            description="STARS CloudFront web ACL (bundled with the flat-rate plan)",
            scope="CLOUDFRONT",
            default_action={"allow": {}},
            rules=[
                {
                    "name": group,
                    "priority": i,
                    "override_action": {"none": {}},
                    "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
                    "visibility_config": visibility(group),
                }
                for i, group in enumerate(WAF_MANAGED_RULE_GROUPS)
            ],
            visibility_config=visibility("stars-cdn"),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, provider=self.us_east_1),
        )
