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

A plan's allowance is a ceiling, not a price step, so N plans need not carry everything: with
``asset_overflow: pay_as_you_go`` the plan distributions carry ``(1 - asset_overflow_share) / N`` of the
assets' traffic each (fit fills them to their allowance) and one pay-as-you-go distribution carries
``asset_overflow_share`` (two Pro plans and the rest pay as you go cost less than a third Pro plan when the
rest is small). The overflow is the dynamic distribution when there is one, given the bucket as its default
behavior's origin (the same paths as the plan distributions, ``/ws`` and the API as its ordered behaviors):
two pay-as-you-go distributions would share one account's free tier and volume tiers, which the budget
rules cannot price per distribution, while one prices exactly. Without a dynamic distribution it is one
more distribution of the bucket, pay as you go. Each distribution's share is its ``asset_share`` tag (what
the budget rules price), and the outputs list the asset names with their shares
(``asset_domain_names``, ``asset_link_shares``). The site spreads its asset links by those shares: each
asset path is hashed to a number in [0, 1) and served from the name whose cumulative share interval holds
it, so an asset always has the same name (its cache stays warm) and each name receives its share of the
requests and bytes; the shares follow the usage the stack states, so when the usage grows the stack's
check fails closed once a plan's share exceeds its allowance, before AWS would throttle.

Beside them, ``free_asset_distributions`` adds up to three distributions of the bucket on the Free plan
(USD 0 for 1 M requests and 100 GB a month; an account holds at most three), each carrying
``free_asset_share`` of the assets (fit fills them to their allowance) before the overflow: two Pro plans,
two Free plans and a smaller rest pay as you go cost less than two Pro plans and the whole rest. They are
built like the plan distributions (a web ACL and a subscription each, tagged with their share) and named
``-distribution-free<k>`` so adding or removing them never renames the others.

An internal load balancer (``stars:loadBalancer.origin: vpc_origin``) is reached through a CloudFront VPC
origin: one ``VpcOrigin`` resource names the load balancer's ARN and port, and the distributions' load
balancer origin points at it (``vpc_origin_config``) instead of a public DNS name. The hop is HTTP inside
the VPC (the load balancer has no certificate and no public endpoint); viewers still speak only HTTPS/WSS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

import pulumi
import pulumi_aws as aws

from components.config import MANAGED_CACHE_POLICY_TTL, CdnConfig
from components.edge import ORIGIN_HEADER, WEBSOCKET_PATHS
from components.tagging import ASSET_SHARE_TAG, PURCHASE_TAG, SAVINGS_BUNDLE, TRAFFIC_TAG, tier_tags

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
    #: Whether CloudFront carries the API too; None: when the load balancer has no TLS (the API's only way).
    #: False for an internal /ws load balancer beside a public one with TLS for the API.
    api: bool | None = None

    @property
    def carries_api(self) -> bool:
        return not self.https if self.api is None else self.api


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


def asset_shares(cfg: CdnConfig) -> tuple[float | None, float | None]:
    """(each plan distribution's share, the overflow distribution's share) of the assets' traffic with
    ``asset_overflow``; (None, None) without it (every assets distribution an equal share, untagged).
    The Free-plan distributions' shares (``free_asset_share`` each) come off the plan distributions'."""
    if cfg.asset_overflow == "none":
        return None, None
    rest = 1 - cfg.asset_overflow_share - cfg.free_asset_distributions * cfg.free_asset_share
    return rest / cfg.asset_distributions, cfg.asset_overflow_share


#: How the Free-plan distributions beside the plan's are named: ``<name>-distribution-free<k>``.
FREE_SUFFIX = "-free"


def free_names(name: str, cfg: CdnConfig) -> list[str]:
    """The Free-plan distributions' name suffixes (``-free1`` ...), one per ``free_asset_distributions``."""
    return [f"{FREE_SUFFIX}{k}" for k in range(1, cfg.free_asset_distributions + 1)]


#: How the distributions carrying the assets' overflow are named: one of its own, or the dynamic one.
OVERFLOW_SUFFIXES = ("-overflow", "-dynamic")


def _free(cfg: CdnConfig, resource_name: str) -> bool:
    """Whether ``resource_name`` is one of the Free-plan distributions beside the plan's."""
    return bool(cfg.free_asset_distributions) and resource_name.rsplit("-", 1)[-1].startswith(FREE_SUFFIX[1:])


def share_tag(cfg: CdnConfig, resource_name: str) -> dict[str, str]:
    """The ``asset_share`` tag of the distribution named ``resource_name`` (none without
    ``asset_overflow``): the overflow's share on the overflow distribution, a plan's on the others. The
    value is the float's repr, the shortest text that reads back as the same float: the rules price
    exactly the share the config states."""
    plan, overflow = asset_shares(cfg)
    if plan is None or overflow is None:
        return {}
    share = overflow if resource_name.endswith(OVERFLOW_SUFFIXES) else plan
    if _free(cfg, resource_name):
        share = cfg.free_asset_share
    return {ASSET_SHARE_TAG: repr(share)}


#: ``stars:cdn`` values that set only values of the distributions' inputs (the price class, and the tags
#: of :func:`value_tags`), never which resources the tier registers: a planner that plans the tier once
#: may write them into that plan for each value (``budget fit`` does; tests/budget/test_fit_pricer_cache.py
#: holds it against planning each value).
VALUE_ONLY = ("price_class", "savings_bundle", "asset_overflow_share", "free_asset_share")
#: The tags :func:`value_tags` sets (the stack's own tags hold neither key).
VALUE_TAGS = (ASSET_SHARE_TAG, PURCHASE_TAG)


def paying(cfg: CdnConfig, resource_name: str) -> bool:
    """Whether the distribution named ``resource_name`` bills pay as you go: the overflow or dynamic one,
    and the plan's own when the stack has no flat-rate plan (a Free-plan one beside them never)."""
    if resource_name.endswith(OVERFLOW_SUFFIXES):
        return True
    return not _free(cfg, resource_name) and cfg.plan == "pay_as_you_go"


def value_tags(cfg: CdnConfig, resource_name: str) -> dict[str, str]:
    """The tags of the distribution named ``resource_name`` that follow :data:`VALUE_ONLY` values: its
    ``asset_share`` (:func:`share_tag`) and, when it bills pay as you go, the Security Savings Bundle's
    purchase."""
    bundle = {PURCHASE_TAG: SAVINGS_BUNDLE} if cfg.savings_bundle and paying(cfg, resource_name) else {}
    return {**share_tag(cfg, resource_name), **bundle}


DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def value_inputs(
    cfg: CdnConfig, resource_type: str, resource_name: str, inputs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The inputs (as planned) of the distribution named ``resource_name`` with ``cfg``'s price class and
    :func:`value_tags`, whatever values it was planned at; None for every other resource."""
    if resource_type != DISTRIBUTION:
        return None
    out = {**inputs, "priceClass": cfg.price_class}
    tags = inputs.get("tags")
    if isinstance(tags, dict):
        kept = {k: v for k, v in tags.items() if k not in VALUE_TAGS}
        out["tags"] = {**kept, **value_tags(cfg, resource_name)}
    return out


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
        dynamic_origin = args.websocket_origin if cfg.dynamic_distribution else None
        self._asset_distributions(name, cfg, tags, cache_policy_id, ws_on_assets, dynamic_origin is not None)
        self.distribution = self.distributions[0]
        self.web_acl = self.web_acls[0] if self.web_acls else None
        self.subscription = self.subscriptions[0] if self.subscriptions else None
        self.dynamic: aws.cloudfront.Distribution | None = None
        if dynamic_origin is not None:
            self.dynamic = self._dynamic_distribution(name, dynamic_origin, cfg, tags)
        #: Every distribution serving the bucket (the dynamic one too when it carries the assets' overflow),
        #: in the order of :func:`asset_shares`: the plan distributions, then the overflow.
        self.asset_readers = list(self.distributions)
        if self.dynamic is not None and cfg.asset_overflow != "none":
            self.asset_readers.append(self.dynamic)
        self.bucket_policy = self._bucket_policy(name)

        self.bucket_name = self.bucket.bucket
        self.domain_name = self.distribution.domain_name
        #: The names viewers reach /ws (and the API) at: the dynamic distribution's when there is one.
        self.dynamic_domain_name = (self.dynamic or self.distribution).domain_name
        self.asset_domain_names = [d.domain_name for d in self.asset_readers]
        plan_share, overflow_share = asset_shares(cfg)
        #: Each asset name's share of the asset links (aligned with ``asset_domain_names``).
        self.asset_link_shares = (
            [plan_share if plan_share is not None else 1 / cfg.asset_distributions] * cfg.asset_distributions
            + [cfg.free_asset_share] * cfg.free_asset_distributions
            + ([overflow_share] if overflow_share is not None else [])
        )
        self.register_outputs(
            {
                "bucket": self.bucket.bucket,
                "distribution_id": self.distribution.id,
                "domain_name": self.distribution.domain_name,
                "asset_domain_names": self.asset_domain_names,
                "asset_link_shares": self.asset_link_shares,
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
        overflow_on_dynamic: bool,
    ) -> None:
        """``asset_distributions`` distributions of the bucket (with ``/ws`` when no dynamic distribution
        carries it), each with its own web ACL and flat-rate plan when the stack has one; and, with
        ``asset_overflow`` and no dynamic distribution to carry it, one more, pay as you go."""
        self._cache_policy = cache_policy_id
        self.web_acls: list[aws.wafv2.WebAcl] = []
        self.subscriptions: list[aws.pricingplanmanager.Subscription] = []
        self.distributions: list[aws.cloudfront.Distribution] = []
        overflow_share = asset_shares(cfg)[1]
        on_plan = cfg.plan != "pay_as_you_go"
        for index in range(cfg.asset_distributions):
            # The first keeps the names of a one-distribution stack (no replacement when more are added).
            suffix = "" if index == 0 else f"-{index + 1}"
            tier = PLAN_TIERS[cfg.plan] if on_plan else None
            self._asset_distribution(
                name, suffix, tier, "STARS static assets and uploads", cfg, tags, ws_on_assets
            )
        for suffix in free_names(name, cfg):
            comment = "STARS static assets (Free flat-rate plan, filled to its allowance)"
            self._asset_distribution(name, suffix, PLAN_TIERS["free"], comment, cfg, tags, ws_on_assets)
        if overflow_share is not None and not overflow_on_dynamic:
            self.distributions.append(
                self._bucket_distribution(
                    f"{name}-overflow",
                    "STARS static assets beyond the flat-rate plans' allowances (pay as you go)",
                    cfg,
                    ws_on_assets,
                    self._tags(tags, "assets", cfg, f"{name}-overflow"),
                    None,
                )
            )

    def _asset_distribution(
        self,
        name: str,
        suffix: str,
        tier: str | None,
        comment: str,
        cfg: CdnConfig,
        tags: dict[str, str],
        ws_origin: WebSocketOrigin | None,
    ) -> None:
        """One distribution of the bucket with, on a flat-rate plan ``tier``, its own web ACL and
        subscription; tagged with its share of the assets (:func:`share_tag`)."""
        web_acl = None
        if tier is not None:
            web_acl = self._web_acl(f"{name}{suffix}", tags)
            self.web_acls.append(web_acl)
        resource_name = f"{name}-distribution{suffix}"
        distribution = self._bucket_distribution(
            resource_name,
            comment,
            cfg,
            ws_origin,
            self._tags(tags, "assets", cfg, resource_name),
            web_acl,
        )
        self.distributions.append(distribution)
        if web_acl is not None and tier is not None:
            self._plan(f"{name}-plan{suffix}", tier, distribution, web_acl)

    def _bucket_distribution(
        self,
        resource_name: str,
        comment: str,
        cfg: CdnConfig,
        ws_origin: WebSocketOrigin | None,
        tags: dict[str, str],
        web_acl: aws.wafv2.WebAcl | None,
    ) -> aws.cloudfront.Distribution:
        """A distribution whose default behavior serves the bucket's public prefix (the same path on every
        asset name), with ``/ws`` (and without a certificate the API) to ``ws_origin`` when given."""
        origins: list[aws.cloudfront.DistributionOriginArgsDict] = [
            {
                "domain_name": self.bucket.bucket_regional_domain_name,
                "origin_id": ORIGIN_ID,
                "origin_path": f"/{PUBLIC_PREFIX}",
                "origin_access_control_id": self.oac.id,
            }
        ]
        extra: dict[str, Any] = {}
        if ws_origin is not None:
            origins.append(websocket_custom_origin(ws_origin, self._vpc_origin_id))
            extra["ordered_cache_behaviors"] = websocket_behaviors(api=ws_origin.carries_api)
        if web_acl is not None:
            extra["web_acl_id"] = web_acl.arn
        return aws.cloudfront.Distribution(
            resource_name,
            comment=comment,
            price_class=cfg.price_class,
            origins=origins,
            default_cache_behavior={
                "target_origin_id": ORIGIN_ID,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "compress": True,
                "cache_policy_id": self._cache_policy,
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
            **VIEWER_SIDE,
            **extra,
        )

    def _plan(
        self, name: str, tier: str, distribution: aws.cloudfront.Distribution, web_acl: aws.wafv2.WebAcl
    ) -> None:
        """The flat-rate plan's subscription, covering one distribution and its web ACL.

        A paid tier bills from creation (IMMEDIATE): the budget check priced the plan before deploy, and
        until a MANUAL subscription is approved the distribution would bill pay-as-you-go."""
        self.subscriptions.append(
            aws.pricingplanmanager.Subscription(
                name,
                plan_family="CloudFront",
                plan_tier=tier,
                resource_arns=[distribution.arn, web_acl.arn],
                usage_level="DEFAULT",
                approval_mode="IMMEDIATE",
                opts=pulumi.ResourceOptions(parent=self, provider=self.us_east_1),
            )
        )

    def _bucket_policy(self, name: str) -> aws.s3.BucketPolicy:
        """Only the distributions serving the assets may read, only under the public prefix; plain HTTP is
        refused."""
        return aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, *(d.arn for d in self.asset_readers)).apply(
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
    def _tags(tags: dict[str, str], traffic: str, cfg: CdnConfig, resource_name: str) -> dict[str, str]:
        """The distribution's ``traffic`` tag (what the budget rules price it with: the assets' share or the
        dynamic figures), its ``asset_share`` when the assets are split unevenly and, on a pay-as-you-go
        distribution, the Security Savings Bundle's purchase (:func:`value_tags`)."""
        return {**tags, TRAFFIC_TAG: traffic, **value_tags(cfg, resource_name)}

    def _dynamic_distribution(
        self, name: str, origin: WebSocketOrigin, cfg: CdnConfig, tags: dict[str, str]
    ) -> aws.cloudfront.Distribution:
        """Pay as you go, nothing cached: /ws (and without a certificate the API) to the load balancer; with
        ``asset_overflow`` it serves the bucket too (the assets' overflow share), like an assets
        distribution."""
        overflow_share = asset_shares(cfg)[1]
        if overflow_share is not None:
            return self._bucket_distribution(
                f"{name}-dynamic",
                "STARS WebSockets, API and the assets beyond the flat-rate plans' allowances (pay as you go)",
                cfg,
                origin,
                self._tags(tags, "dynamic", cfg, f"{name}-dynamic"),
                None,
            )
        behaviors = websocket_behaviors(api=origin.carries_api)
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
            tags=self._tags(tags, "dynamic", cfg, f"{name}-dynamic"),
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
