"""Storage and CDN tier: a private S3 bucket served by CloudFront through Origin Access Control.

The bucket is never public: all four public-access blocks are on, ACLs are disabled (bucket owner
enforced), and its policy lets only this distribution read (``AWS:SourceArn``) and refuses plain HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.config import CdnConfig
from components.tagging import tier_tags

#: AWS managed cache policy "CachingOptimized" (gzip + brotli keys, default TTL 1 day).
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_OPTIMIZED_DEFAULT_TTL = 86400
ORIGIN_ID = "s3-assets"
#: CloudFront reads only this prefix of the bucket (the runtime release lives outside it).
PUBLIC_PREFIX = "public"


@dataclass
class CdnArgs:
    """Inputs of :class:`Cdn` (from ``stars:cdn``)."""

    config: CdnConfig
    tags: dict[str, str] = field(default_factory=dict)


class Cdn(pulumi.ComponentResource):
    """Bucket (+ encryption, ownership, public access block, tiering) and the CloudFront distribution."""

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Cdn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        tags = tier_tags(args.tags, name)

        self.bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=False, tags=tags, opts=child)
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
        rules: list[dict[str, object]] = [
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
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id, rules=rules, opts=bucket_child
        )

        self.oac = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            description="STARS assets bucket, signed requests only",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        if cfg.default_ttl_seconds == CACHING_OPTIMIZED_DEFAULT_TTL:
            cache_policy_id: pulumi.Input[str] = CACHING_OPTIMIZED_POLICY_ID
        else:
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
            cache_policy_id = policy.id
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            comment="STARS static assets and uploads",
            price_class=cfg.price_class,
            origins=[
                {
                    "domain_name": self.bucket.bucket_regional_domain_name,
                    "origin_id": ORIGIN_ID,
                    "origin_path": f"/{PUBLIC_PREFIX}",
                    "origin_access_control_id": self.oac.id,
                }
            ],
            default_cache_behavior={
                "target_origin_id": ORIGIN_ID,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "compress": True,
                "cache_policy_id": cache_policy_id,
            },
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True},
            tags=tags,
            opts=child,
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, self.distribution.arn).apply(
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
                                "Condition": {"StringEquals": {"AWS:SourceArn": v[1]}},
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

        self.bucket_name = self.bucket.bucket
        self.domain_name = self.distribution.domain_name
        self.register_outputs(
            {
                "bucket": self.bucket.bucket,
                "distribution_id": self.distribution.id,
                "domain_name": self.distribution.domain_name,
            }
        )
