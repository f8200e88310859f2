"""Run the program under Pulumi mocks and record what it would register.

The budget check prices exactly these records, and the infrastructure tests assert on them, so both look
at the resources (types, names, inputs) that ``pulumi up`` would create, without the CLI or AWS.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func

from components.config import StackConfig

PROJECT = "stars"
MOCK_ACCOUNT = "123456789012"


@dataclass
class RecordedResource:
    """One resource registration as the engine would see it (inputs use the provider's camelCase keys)."""

    type: str
    name: str
    inputs: dict[str, Any]
    id: str
    tier: str
    urn: str
    #: False for this program's ComponentResources (type ``stars:index:*``): they cost nothing.
    custom: bool = True
    #: Inputs plus what the mock answered (ids, ARNs, endpoints, generated passwords).
    state: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The region of the provider that manages it (the stack's, or an explicit provider's such as us-east-1).
    region: str = ""


#: Pulumi's wire form of an asset (what ``pulumi preview --json`` shows): the special-signature key with the
#: asset signature, and the asset's own fields.
_SIG_KEY, _ASSET_SIG = "4dabf18193072939515e22adb298388d", "c44067f5952c0a294b673a41bacd8c17"


def _wire_assets(value: Any) -> Any:
    """Assets (the release upload's ``FileAsset``) as plain data, like a preview, so records stay JSON."""
    if isinstance(value, pulumi.FileAsset):
        return {_SIG_KEY: _ASSET_SIG, "path": value.path}
    if isinstance(value, dict):
        return {k: _wire_assets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_assets(v) for v in value]
    return value


def _short(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


#: EC2 id prefixes of the network resources (``vpc-1a2b...``), as AWS forms them.
_EC2_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
}


@dataclass(frozen=True)
class _Created:
    """What the mocks know of a resource being created: its type, name, inputs and a stable hash."""

    typ: str
    name: str
    inputs: dict[str, Any]
    #: The region of the provider that manages it.
    region: str
    #: A short hash of type and name, the stable part of every mocked id.
    h: str
    #: The name AWS would know it by: its ``name`` input, else the logical name and part of the hash.
    physical: str
    #: The type's resource part (``role``, ``instanceProfile``): the ARN's resource path by default.
    kind: str

    @property
    def default_id(self) -> str:
        return f"{self.name}-{self.h}"


class RecordingMocks(pulumi.runtime.Mocks):
    """Plausible provider state for the types this program uses; records every registration."""

    def __init__(self, stack: str, region: str) -> None:
        self.stack = stack
        self.region = region
        self.records: list[RecordedResource] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: Explicit providers by id (the last part of a provider reference ``urn::id``) -> their region.
        self.provider_regions: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- resources ---------------------------------------------------------------------------------
    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, _wire_assets(dict(args.inputs))
        region = self._region_of(args.provider)
        rid, extra = self._state(typ, name, inputs, region)
        if typ.startswith("pulumi:providers:"):
            region = str(inputs.get("region") or self.region)  # the region it manages resources in
            with self._lock:
                self.provider_regions[rid] = region
        record = RecordedResource(
            type=typ,
            name=name,
            inputs=inputs,
            id=rid,
            tier=name.split("-")[0],
            urn=f"urn:pulumi:{self.stack}::{PROJECT}::{typ}::{name}",
            custom=bool(args.custom),
            state={**inputs, **extra},
            region=region,
        )
        with self._lock:
            self.records.append(record)
        return rid, {**inputs, **extra}

    def _region_of(self, provider: str | None) -> str:
        """The region of the provider a resource names (``urn::id``), else the stack's."""
        if not provider:
            return self.region
        with self._lock:
            return self.provider_regions.get(provider.rsplit("::", 1)[-1], self.region)

    def _arn(self, service: str, resource: str, *, region: bool | str = True) -> str:
        where = region if isinstance(region, str) else (self.region if region else "")
        return f"arn:aws:{service}:{where}:{MOCK_ACCOUNT}:{resource}"

    def _state(
        self, typ: str, name: str, inputs: dict[str, Any], region: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The id and the output properties a real create would add to the inputs."""
        region = region or self.region
        h = _short(f"{typ}/{name}")
        if typ == "pulumi:providers:aws":
            # A provider has no ARN; its id is what resources name in their provider reference.
            return f"{name}-provider-{h}", {}
        module, _, kind = typ.partition(":")[2].partition("/")
        created = _Created(
            typ=typ,
            name=name,
            inputs=inputs,
            region=region,
            h=h,
            physical=inputs.get("name") or f"{name}-{h[:7]}",
            kind=kind.split(":")[0],
        )
        state: dict[str, Any] = {}
        rid = next(
            (
                found
                for family in (self._network, self._endpoints, self._edge, self._account)
                if (found := family(created, state)) is not None
            ),
            created.default_id,
        )
        state.setdefault("name", created.physical)
        if "arn" not in state and module:
            state["arn"] = self._arn(module, f"{created.kind}/{created.physical}", region=region)
        state.setdefault("tagsAll", inputs.get("tags") or {})
        return rid, state

    def _network(self, c: _Created, state: dict[str, Any]) -> str | None:
        """VPC pieces and launch templates: EC2-style ids (``vpc-``, ``sg-``...), and the few outputs read."""
        prefix = _EC2_ID_PREFIXES.get(c.typ)
        if prefix is None:
            return None
        match c.typ:
            case "aws:ec2/eip:Eip":
                state["publicIp"] = f"203.0.113.{int(c.h[:2], 16) % 250 + 1}"
            case "aws:ec2/vpcEndpoint:VpcEndpoint":
                state["prefixListId"] = f"pl-{c.h}"
            case "aws:ec2/launchTemplate:LaunchTemplate":
                state["latestVersion"] = 1
        return f"{prefix}-{c.h}"

    def _endpoints(self, c: _Created, state: dict[str, Any]) -> str | None:
        """What clients reach by a DNS name: load balancers, their target groups, RDS, ElastiCache, S3."""
        h, physical, inputs = c.h, c.physical, c.inputs
        match c.typ:
            case "aws:lb/loadBalancer:LoadBalancer":
                lb_kind = "net" if inputs.get("loadBalancerType") == "network" else "app"
                state["arnSuffix"] = f"{lb_kind}/{physical}/{h}"
                state["arn"] = self._arn("elasticloadbalancing", f"loadbalancer/{lb_kind}/{physical}/{h}")
                state["dnsName"] = f"{physical}-{h}.{self.region}.elb.amazonaws.com"
                state["zoneId"] = "Z0000000MOCK"
                return state["arn"]
            case "aws:lb/targetGroup:TargetGroup":
                state["arnSuffix"] = f"targetgroup/{physical}/{h}"
                state["arn"] = self._arn("elasticloadbalancing", state["arnSuffix"])
                return state["arn"]
            case "aws:rds/instance:Instance":
                ident = inputs.get("identifier") or physical
                state["identifier"] = ident
                state["address"] = f"{ident}.{h}.{self.region}.rds.amazonaws.com"
                state["endpoint"] = f"{state['address']}:{inputs.get('port', 5432)}"
                if inputs.get("manageMasterUserPassword"):
                    state["masterUserSecrets"] = [
                        {
                            "secretArn": self._arn("secretsmanager", f"secret:rds!db-{h}-AbCdEf"),
                            "secretStatus": "active",
                            "kmsKeyId": self._arn("kms", f"key/{h}"),
                        }
                    ]
                return ident
            case "aws:elasticache/replicationGroup:ReplicationGroup":
                group = inputs.get("replicationGroupId") or physical
                state["primaryEndpointAddress"] = f"master.{group}.{h[:6]}.{self.region}.cache.amazonaws.com"
                state["readerEndpointAddress"] = f"replica.{group}.{h[:6]}.{self.region}.cache.amazonaws.com"
                state["memberClusters"] = [
                    f"{group}-{i:03d}" for i in range(1, int(inputs.get("numCacheClusters", 1)) + 1)
                ]
                return group
            case "aws:s3/bucket:Bucket":
                bucket = inputs.get("bucket") or physical
                state["bucket"] = bucket
                state["bucketRegionalDomainName"] = f"{bucket}.s3.{self.region}.amazonaws.com"
                state["arn"] = f"arn:aws:s3:::{bucket}"
                return bucket
        return None

    def _edge(self, c: _Created, state: dict[str, Any]) -> str | None:
        """CloudFront and what sits beside it: cache policies, web ACLs, plans, certificates, DNS records."""
        h, physical = c.h, c.physical
        match c.typ:
            case "aws:cloudfront/distribution:Distribution":
                rid = f"E{h.upper()}"
                state["domainName"] = f"d{h}.cloudfront.net"
                state["arn"] = f"arn:aws:cloudfront::{MOCK_ACCOUNT}:distribution/{rid}"
                state["hostedZoneId"] = "Z2FDTNDATAQYW2"
                return rid
            case (
                "aws:cloudfront/originAccessControl:OriginAccessControl"
                | "aws:cloudfront/cachePolicy:CachePolicy"
            ):
                return f"{h}-{_short(c.name, 4)}"
            case "aws:wafv2/webAcl:WebAcl":
                rid = f"{h}-{h[:4]}-4{h[4:7]}-8{h[:3]}-{h}{h[:4]}"
                scope = "global" if c.inputs.get("scope") == "CLOUDFRONT" else "regional"
                state["arn"] = self._arn("wafv2", f"{scope}/webacl/{physical}/{rid}", region=c.region)
                state["capacity"] = 0
                state["lockToken"] = f"lock-{h}"
                return rid
            case "aws:pricingplanmanager/subscription:Subscription":
                rid = f"sub-{h}"
                state["arn"] = self._arn("pricingplanmanager", f"subscription/{rid}", region=False)
                state["status"] = "ACTIVE"
                return rid
            case "aws:acm/certificate:Certificate":
                domain = str(c.inputs.get("domainName"))
                rid = self._arn("acm", f"certificate/{h}-{h[:4]}-4{h[4:7]}-8{h[:3]}-{h}{h[:4]}")
                state["arn"] = rid
                state["domainValidationOptions"] = [
                    {
                        "domainName": domain,
                        "resourceRecordName": f"_{h}.{domain}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": f"_{h[::-1]}.acm-validations.aws.",
                    }
                ]
                return rid
            case "aws:route53/record:Record":
                state["fqdn"] = str(c.inputs.get("name", "")).rstrip(".")
                return c.default_id
        return None

    def _account(self, c: _Created, state: dict[str, Any]) -> str | None:
        """Account-wide pieces: secrets, keys, roles, log groups, topics, groups, generated passwords."""
        h, physical = c.h, c.physical
        match c.typ:
            case "aws:secretsmanager/secret:Secret":
                state["arn"] = self._arn("secretsmanager", f"secret:{physical}-{h[:6]}")
                return state["arn"]
            case "aws:cloudwatch/logGroup:LogGroup":
                state["arn"] = self._arn("logs", f"log-group:{physical}")
                return c.default_id
            case "aws:iam/role:Role" | "aws:iam/instanceProfile:InstanceProfile":
                path = "role" if c.kind == "role" else "instance-profile"
                state["arn"] = self._arn("iam", f"{path}/{physical}", region=False)
                return physical
            case "aws:autoscaling/group:Group":
                return physical
            case "aws:sns/topic:Topic":
                state["arn"] = self._arn("sns", physical)
                return state["arn"]
            case "aws:kms/key:Key":
                rid = f"{h}-0000-4000-8000-{h}{h[:4]}"
                state["keyId"] = rid
                state["arn"] = self._arn("kms", f"key/{rid}")
                return rid
            case "random:index/randomPassword:RandomPassword":
                # Deterministic, obviously fake, long enough to be found by the no-secret checks.
                state["result"] = f"MockSecret{_short(c.name, 16)}{h}"
                state["bcryptHash"] = "mock"
                return "none"
        return None

    # -- invokes ---------------------------------------------------------------------------------------
    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token, a = args.token, dict(args.args)
        with self._lock:
            self.calls.append((token, a))
        match token:
            case "aws:index/getAvailabilityZones:getAvailabilityZones":
                names = [f"{self.region}{s}" for s in "abc"]
                return {"id": self.region, "names": names, "zoneIds": [f"mock-az{i}" for i in (1, 2, 3)]}, []
            case "aws:ec2/getAmi:getAmi":
                arch = next(
                    (f["values"][0] for f in a.get("filters", []) if f.get("name") == "architecture"),
                    "x86_64",
                )
                ami = f"ami-{_short(self.region + arch, 17)}"
                return {
                    "id": ami,
                    "imageId": ami,
                    "architecture": arch,
                    "name": f"al2023-ami-mock-{arch}",
                }, []
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    "id": MOCK_ACCOUNT,
                    "accountId": MOCK_ACCOUNT,
                    "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/mock",
                    "userId": "AIDAMOCK",
                }, []
            case "aws:index/getRegion:getRegion":
                return {"id": self.region, "region": self.region, "name": self.region}, []
            case "aws:ec2/getManagedPrefixList:getManagedPrefixList":
                name = a.get("name", "")
                return {"id": f"pl-{_short(self.region + name, 8)}", "name": name, "maxEntries": 55}, []
            case "aws:index/getPartition:getPartition":
                return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        raise NotImplementedError(
            f"RecordingMocks has no answer for invoke {token}; add one in components/planning/mocks.py"
        )


@dataclass
class Plan:
    """Everything a mocked run produced: the records and the resolved stack outputs."""

    resources: list[RecordedResource]
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


#: Planning threads: a resource registered in one of them skips the SDK's stack capture (below).
_planning = threading.local()
_NO_STACK = source_pb2.StackTrace()


def _skip_stack_traces_when_planning() -> None:
    """Registering a resource captures the caller's whole stack (``traceback.extract_stack``) so that the
    engine can show where in the program it was declared: 7-15% of a mocked run (measured, 1,974
    resources), and nothing under mocks ever reads it. In a planning thread the capture is skipped; any
    other thread (the real program the budget guard runs beside) keeps the SDK's own. Wrapped once per
    process; if a later SDK renames the function, planning simply keeps capturing."""
    global _sdk_stack_trace
    original = getattr(pulumi_resource, "_get_stack_trace", None)
    if original is None or original is _stack_trace:
        return
    _sdk_stack_trace = original
    pulumi_resource._get_stack_trace = _stack_trace


#: The SDK's own capture, once wrapped.
_sdk_stack_trace: Callable[[], Any] | None = None


def _stack_trace() -> Any:
    """The SDK's capture, except in a planning thread."""
    if getattr(_planning, "active", False) or _sdk_stack_trace is None:
        return _NO_STACK
    return _sdk_stack_trace()


def _isolate_settings() -> None:
    """Give this thread's context its own mutable runtime state.

    Pulumi keeps its settings in context variables, but a setting's first assignment also becomes the
    default every *other* context sees, so a new thread would share the caller's set of pending outputs
    (and wait for tasks of another event loop, forever) and its package registry. ``set_mocks`` replaces
    the monitor, engine and RPC manager; the rest is replaced here.
    """
    SETTINGS.outputs = set()
    SETTINGS.lock = threading.Lock()
    SETTINGS.package_refs = {}
    SETTINGS.base_providers_by_ref = {}


def _run(cfg: StackConfig, tiers: tuple[str, ...] | None, result: dict[str, Any]) -> None:
    """Body of the worker thread: its own event loop and a fresh context, so no state leaks between runs.

    ``tiers`` None builds the whole stack; otherwise only those tiers, against stand-in links.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _planning.active = True
    try:
        # Local: the policy pack imports this module for RecordedResource alone, and every tier's module
        # (components.stack) would cost it 0.15 s more (measured).
        from components.stack import build_stack, build_tier

        _isolate_settings()
        mocks = RecordingMocks(stack=cfg.stack, region=cfg.region)
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=cfg.stack, preview=False)
        outputs: dict[str, Any] = {}

        async def resolve(values: dict[str, Any]) -> None:
            outputs.update(await pulumi.Output.from_input(values).future() or {})

        def program() -> Any:
            if tiers is not None:
                for tier in tiers:
                    build_tier(cfg, tier)
                return None
            return resolve(build_stack(cfg))

        loop.run_until_complete(run_pulumi_func(program))
        result["plan"] = Plan(
            resources=sorted(mocks.records, key=lambda r: r.urn), outputs=outputs, invokes=list(mocks.calls)
        )
    except BaseException as exc:  # handed to the calling thread
        result["error"] = exc
    finally:
        try:
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _plan(cfg: StackConfig, tiers: tuple[str, ...] | None) -> Plan:
    _skip_stack_traces_when_planning()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=_run, args=(cfg, tiers, result), name=f"plan-{cfg.stack}")
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["plan"]


def plan(cfg: StackConfig) -> Plan:
    """Run ``build_stack(cfg)`` under :class:`RecordingMocks` and wait for every registration.

    Each run happens in a new thread with its own event loop and its own Pulumi runtime state (see
    :func:`_isolate_settings`), so several stacks can be planned in one process, one after the other or
    at once, and a caller that is itself inside a running Pulumi program keeps its own settings and
    pending outputs. (The budget guard in ``__main__`` could plan here, but runs the check in a
    subprocess for its time bound and isolation: see budget.guard.)
    """
    return _plan(cfg, None)


def plan_tiers(cfg: StackConfig, tiers: tuple[str, ...]) -> list[RecordedResource]:
    """The resources of some tiers of ``cfg`` alone (sorted by URN), built against stand-in links.

    A tier's resources, names and priced inputs are those of the whole plan; only the ids and ARNs it
    takes from other tiers are placeholders (a test holds this for every tier of every phase).
    """
    return _plan(cfg, tiers).resources


def plan_resources(cfg: StackConfig) -> list[RecordedResource]:
    """The resources ``pulumi up`` would register for ``cfg`` (sorted by URN), from a mocked run."""
    return plan(cfg).resources
