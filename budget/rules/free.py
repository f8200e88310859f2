"""Resource types that cost nothing on their own, each with the reason. Listed on purpose: a type that is
neither here nor in a rule is unpriced and the check fails closed."""

from __future__ import annotations

_BUCKET_CONFIG = "bucket configuration; storage and requests are priced on the bucket"
_LOCAL = "generated locally by the random provider; no cloud resource"

FREE: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "a VPC has no charge (its NAT gateways, addresses and endpoints are priced)",
    "aws:ec2/subnet:Subnet": "subnets have no charge",
    "aws:ec2/internetGateway:InternetGateway": "an internet gateway has no charge (data transfer is priced)",
    "aws:ec2/routeTable:RouteTable": "route tables have no charge",
    "aws:ec2/route:Route": "routes have no charge",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "route table associations have no charge",
    "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation": "route table associations have no charge",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security groups have no charge",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": "network ACLs have no charge",
    "aws:ec2/defaultRouteTable:DefaultRouteTable": "route tables have no charge",
    "aws:ec2/securityGroup:SecurityGroup": "security groups have no charge",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "security group rules have no charge",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security group rules have no charge",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security group rules have no charge",
    "aws:ec2/launchTemplate:LaunchTemplate": "priced through the auto-scaling group that launches it",
    "aws:autoscaling/policy:Policy": "scaling policies have no charge (the group's instances are priced)",
    "aws:autoscaling/schedule:Schedule": (
        "scheduled actions have no charge (their effect on hours is priced on the group)"
    ),
    "aws:autoscaling/lifecycleHook:LifecycleHook": "lifecycle hooks have no charge",
    "aws:lb/targetGroup:TargetGroup": "target groups have no charge (the load balancer's LCUs are priced)",
    "aws:alb/targetGroup:TargetGroup": "target groups have no charge (the load balancer's LCUs are priced)",
    "aws:lb/listener:Listener": "listeners have no charge (rule evaluations count in the LCUs)",
    "aws:alb/listener:Listener": "listeners have no charge (rule evaluations count in the LCUs)",
    "aws:lb/listenerRule:ListenerRule": "listener rules have no charge (rule evaluations count in the LCUs)",
    "aws:alb/listenerRule:ListenerRule": "listener rules have no charge (rule evaluations count in the LCUs)",
    "aws:iam/role:Role": "IAM has no charge",
    "aws:iam/rolePolicy:RolePolicy": "IAM has no charge",
    "aws:iam/policy:Policy": "IAM has no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM has no charge",
    "aws:iam/instanceProfile:InstanceProfile": "IAM has no charge",
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": "IAM has no charge",
    "aws:rds/subnetGroup:SubnetGroup": "DB subnet groups have no charge",
    "aws:rds/parameterGroup:ParameterGroup": "DB parameter groups have no charge",
    "aws:elasticache/subnetGroup:SubnetGroup": "cache subnet groups have no charge",
    "aws:elasticache/parameterGroup:ParameterGroup": "cache parameter groups have no charge",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _BUCKET_CONFIG,
    "aws:s3/bucketObjectv2:BucketObjectv2": (
        "an object in the bucket (the runtime release, ~30 MB); its storage and requests are priced on the"
        " bucket from the stack's s3 usage"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _BUCKET_CONFIG,
    "aws:s3/bucketPolicy:BucketPolicy": _BUCKET_CONFIG,
    "aws:s3/bucketVersioning:BucketVersioning": _BUCKET_CONFIG,
    "aws:s3/bucketVersioningV2:BucketVersioningV2": _BUCKET_CONFIG,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket configuration (SSE-S3 has no charge); storage and requests are priced on the bucket"
    ),
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": (
        "bucket configuration (SSE-S3 has no charge); storage and requests are priced on the bucket"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _BUCKET_CONFIG,
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": _BUCKET_CONFIG,
    "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration": (
        "bucket configuration; Intelligent-Tiering storage and monitoring are priced on the bucket"
    ),
    "aws:s3/bucketAclV2:BucketAclV2": _BUCKET_CONFIG,
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": "bucket configuration",
    "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2": "bucket configuration",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "origin access control has no charge",
    "aws:cloudfront/cachePolicy:CachePolicy": "cache policies have no charge",
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy": "origin request policies have no charge",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": "response headers policies have no charge",
    "aws:cloudfront/vpcOrigin:VpcOrigin": (
        "a CloudFront VPC origin has no charge beyond CloudFront's standard rates, which the distribution"
        " pays (pricing-levers.md section 2, 'VPC origins: price': 'Private CloudFront origins cut public IP"
        " risk now', https://wirez.top/posts/private-cloudfront-origins-cut-public-ip-risk-now/, a"
        " third-party page of 2026; no AWS page stating the price was found)"
    ),
    "aws:sns/topicSubscription:TopicSubscription": "deliveries are priced on the topic",
    "aws:sns/topicPolicy:TopicPolicy": "topic policies have no charge",
    "aws:secretsmanager/secretVersion:SecretVersion": "priced per secret, not per version",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "resource policies have no charge",
    "aws:acm/certificate:Certificate": "public ACM certificates have no charge",
    "aws:acm/certificateValidation:CertificateValidation": (
        "waits for ACM to issue the certificate; no AWS resource of its own"
    ),
    "aws:route53/record:Record": (
        "records have no monthly charge (the hosted zone, USD 0.50 a month, is the operator's, not"
        " created by the stack); queries to alias records of a load balancer are free, the validation"
        " CNAME is read by ACM alone"
    ),
    "aws:kms/alias:Alias": "aliases have no charge (the key is priced)",
    "random:index/randomPassword:RandomPassword": _LOCAL,
    "random:index/randomId:RandomId": _LOCAL,
    "random:index/randomString:RandomString": _LOCAL,
    "pulumi:providers:aws": "a provider configuration, not a cloud resource",
    "pulumi:providers:random": "a provider configuration, not a cloud resource",
    "pulumi:pulumi:Stack": "the stack itself, not a cloud resource",
}
#: Type-token packages of the project's own component resources (they group children and cost nothing).
COMPONENT_PACKAGES = ("stars",)


def free_reason(type_token: str, custom: bool = True) -> str | None:
    """Why a type costs nothing, or None when it must be priced by a rule."""
    if type_token in FREE:
        return FREE[type_token]
    if not custom or type_token.split(":", 1)[0] in COMPONENT_PACKAGES:
        return "component resource: groups its children and costs nothing itself"
    return None
