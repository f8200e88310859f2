"""Property-based fuzzing of every parser of outside input in budget/: previews, stack files, reports.

Each parser must either return its typed result or raise its own documented error (which the commands turn
into a clear message and exit code 2): never another exception, never a silent partial result. Pricing
what a hostile preview describes must fail closed (an ``Unpriced`` entry), never crash the check.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget.catalog import load_catalog
from budget.estimator import estimate_preview
from budget.model import PricedResource
from budget.preview import (
    DELETE_OPS,
    LIVE_OPS,
    NO_BILL_OPS,
    SECRET_SIG,
    SIG_KEY,
    PreviewError,
    load_preview,
    parse_preview,
    parse_preview_document,
)
from budget.regions import REGION_NAME
from budget.report.model import CostReport, ReportError
from budget.rules import FREE, RULES
from budget.rules.base import SECRET, UNKNOWN
from components.config import UNAVAILABLE_IN_REGION, ConfigError, parse_stack_config, read_stack_file
from tests.budget.budget_helpers import stack_cfg

GOLDEN = Path(__file__).parent / "golden"
#: Examples per property in CI; ``STARS_FUZZ_EXAMPLES=5000`` for a long run.
FUZZ = settings(
    max_examples=int(os.environ.get("STARS_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CATALOG = load_catalog()

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
#: Input names the rules read, so generated inputs reach the rules' arithmetic, not only their lookups.
INPUT_KEYS = (
    "instanceType",
    "minSize",
    "maxSize",
    "desiredCapacity",
    "launchTemplate",
    "mixedInstancesPolicy",
    "blockDeviceMappings",
    "instanceClass",
    "allocatedStorage",
    "storageType",
    "multiAz",
    "nodeType",
    "numCacheClusters",
    "loadBalancerType",
    "internal",
    "subnets",
    "priceClass",
    "vpcEndpointType",
    "period",
    "tags",
    "engine",
    "replicateSourceDb",
    "loadBalancerArn",
    "protocol",
    "planFamily",
    "planTier",
    "usageLevel",
    "resourceArns",
    "scope",
    # a standalone EC2 instance
    "rootBlockDevice",
    "ebsBlockDevices",
    "instanceMarketOptions",
    "creditSpecification",
    "monitoring",
    "associatePublicIpAddress",
    "ebsOptimized",
    "tenancy",
    "hostId",
)
INSTANCE_KEYS = ("tags", *INPUT_KEYS[INPUT_KEYS.index("rootBlockDevice") :])


def mostly(realistic: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``realistic`` nine times in ten, any JSON value the tenth."""
    return st.integers(0, 9).flatmap(lambda n: json_values if n == 0 else realistic)


ebs_volumes = st.fixed_dictionaries(
    {},
    optional={
        "deviceName": mostly(st.sampled_from(["/dev/xvda", "/dev/sdf"])),
        "volumeSize": mostly(st.integers(-2, 20_000) | st.sampled_from(["nan", "inf", "1e999"])),
        "volumeType": mostly(st.sampled_from(["gp2", "gp3", "io1", "io2", "sc1", "standard", ""])),
        "iops": mostly(st.integers(-1, 70_000)),
        "throughput": mostly(st.integers(0, 1000)),
    },
)
#: Values of the real shape for some inputs (the rest any JSON), so generated instances reach the
#: instance rule's arithmetic, not only its lookups.
INPUT_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "instanceType": mostly(
        st.sampled_from(["t3.medium", "t2.medium", "t4g.small", "m3.medium", "r3.xlarge"])
    ),
    "rootBlockDevice": mostly(ebs_volumes),
    "ebsBlockDevices": mostly(st.lists(mostly(ebs_volumes), max_size=3)),
    "instanceMarketOptions": mostly(
        st.fixed_dictionaries(
            {}, optional={"marketType": mostly(st.sampled_from(["spot", "capacity-block", ""]))}
        )
    ),
    "creditSpecification": mostly(
        st.fixed_dictionaries({}, optional={"cpuCredits": mostly(st.sampled_from(["standard", "unlimited"]))})
    ),
    "monitoring": mostly(st.booleans()),
    "associatePublicIpAddress": mostly(st.booleans()),
    "ebsOptimized": mostly(st.booleans()),
    "tenancy": mostly(st.sampled_from([None, "default", "dedicated"])),
    "hostId": mostly(st.sampled_from([None, None, "", "h-0123"])),
    "tags": mostly(st.sampled_from([{"purchase": "reserved-1yr"}, {"purchase": "on-demand"}, {}])),
}


@st.composite
def rule_inputs(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(INPUT_KEYS), unique=True, max_size=8))
    return {key: draw(INPUT_VALUES.get(key, json_values)) for key in keys}


types = st.sampled_from(sorted(RULES) + sorted(FREE)) | st.text(max_size=30)


#: Every op ``pulumi preview --json`` prints (the live ones twice as often), and one it does not.
OPS = [*sorted(LIVE_OPS), *sorted(LIVE_OPS | DELETE_OPS | NO_BILL_OPS), "teleport"]
SECRET_OBJECT = {SIG_KEY: SECRET_SIG, "ciphertext": "AAEC"}
#: Values the real shape carries where a rule reads a plain one: unknowns, secrets, plaintext secrets.
opaque_values = st.sampled_from([UNKNOWN, SECRET, SECRET_OBJECT]) | json_values.map(
    lambda v: {SIG_KEY: SECRET_SIG, "plaintext": json.dumps(v)}
)
PROVIDERS = [f"urn:pulumi:fuzz::stars::pulumi:providers:aws::{n}" for n in ("default_7_51_1", "use1", "gone")]
regions = st.sampled_from(
    ["us-east-1", "af-south-1", "eu-west-1", "ap-south-2", SECRET, UNKNOWN, ""]
) | st.text(max_size=12)


def _sprinkle(inputs: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """Some inputs replaced by what a preview shows instead of a plain value."""
    for key in list(inputs):
        if draw(st.integers(0, 3)) == 0:
            inputs[key] = draw(opaque_values)
    return inputs


@st.composite
def steps(draw: st.DrawFn) -> dict[str, Any]:
    typ = draw(types)
    name = draw(st.text(min_size=1, max_size=12))
    state: dict[str, Any] = {
        "urn": f"urn:pulumi:fuzz::stars::{typ}::{name}",
        "type": typ,
        "inputs": _sprinkle(draw(rule_inputs()), draw),
    }
    links = st.dictionaries(st.sampled_from(INPUT_KEYS), st.lists(st.sampled_from(PROVIDERS), max_size=2))
    if draw(st.booleans()):  # mostly well formed, now and then anything (hypothesis favours 0: rare is 9)
        state["propertyDependencies"] = draw(json_values if draw(st.integers(0, 19)) == 7 else links)
    if draw(st.booleans()):
        state["parent"] = draw(json_values if draw(st.integers(0, 19)) == 7 else st.sampled_from(PROVIDERS))
    if draw(st.booleans()):
        state["id"] = draw(
            json_values if draw(st.integers(0, 19)) == 7 else st.sampled_from([UNKNOWN, "", "i-1"])
        )
    if draw(st.booleans()):
        state["inputs"]["region"] = draw(regions)
    if draw(st.booleans()):
        state["custom"] = draw(st.booleans())
    step: dict[str, Any] = {"op": draw(st.sampled_from(OPS)), "urn": state["urn"]}
    if draw(st.booleans()):  # mostly a provider reference, now and then anything
        ref = st.sampled_from(PROVIDERS).map(lambda u: f"{u}::{UNKNOWN}")
        step["provider"] = draw(json_values if draw(st.integers(0, 19)) == 7 else ref)
    key = draw(st.sampled_from(["both", "newState", "oldState", "neither"]))
    if key in ("newState", "both"):
        step["newState"] = state
    if key in ("oldState", "both"):
        step["oldState"] = copy.deepcopy(state)
    return step


@st.composite
def provider_steps(draw: st.DrawFn) -> dict[str, Any]:
    urn = draw(st.sampled_from(PROVIDERS))
    inputs: object  # a region, or any JSON object the fuzzer makes of the block
    if draw(st.booleans()):
        inputs = {"region": draw(regions)}
    else:
        inputs = draw(json_values.filter(lambda v: isinstance(v, dict)) | st.just({}))
    state = {"urn": urn, "type": "pulumi:providers:aws", "custom": True, "inputs": inputs}
    return {"op": draw(st.sampled_from(["same", "create", "update"])), "urn": urn, "newState": state}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A preview document in the real shape: config, provider steps, resource steps, a change summary."""
    doc: dict[str, Any] = {
        "steps": draw(st.lists(provider_steps(), max_size=2)) + draw(st.lists(steps(), max_size=6))
    }
    doc["steps"] = draw(st.permutations(doc["steps"]))
    if draw(st.booleans()):
        if draw(st.booleans()):
            doc["config"] = {"aws:region": draw(regions)}
        else:
            doc["config"] = draw(json_values)
    if draw(st.booleans()):
        doc["changeSummary"] = draw(
            st.dictionaries(st.sampled_from(OPS), st.integers(0, 8), max_size=3) | json_values
        )
    return doc


@FUZZ
@given(json_values)
def test_any_json_is_a_preview_or_a_preview_error(document: Any) -> None:
    try:
        resources = parse_preview(document)
    except PreviewError:
        return
    assert isinstance(resources, list)


@FUZZ
@given(documents())
def test_hostile_previews_are_priced_or_refused_never_crash(document: dict[str, Any]) -> None:
    try:
        preview = parse_preview_document(document)
    except PreviewError:
        return
    urns = [r.urn for r in preview.resources]
    assert len(urns) == len(set(urns))  # each URN once, whatever the ops
    assert not set(urns) & {r.urn for r in preview.deleted}  # a resource that stays is not a saving
    for resource in (*preview.resources, *preview.deleted):
        assert resource.region is None or resource.region_error is None
        assert resource.region is None or REGION_NAME.match(resource.region)
    est = estimate_preview(preview, stack_cfg(), CATALOG, "fuzz")
    assert len(est.priced) + len(est.unpriced) == len(preview.resources)
    for priced in (*est.priced, *est.deleted):
        assert isinstance(priced, PricedResource)
        total = priced.monthly("max")
        assert total == total and total >= 0, f"{priced.resource.type}: {total}"  # not NaN, not negative
    for unpriced in est.unpriced:  # an opaque value never reaches a catalog key or a number
        assert f"'{UNKNOWN}'" not in unpriced.reason and SECRET not in unpriced.reason.replace(
            "a secret in the preview", ""
        ), unpriced.reason


def _one_step(urn: str, kind: str, inputs: dict[str, Any]) -> dict[str, Any]:
    state = {"urn": urn, "type": kind, "inputs": inputs}
    return {"steps": [{"op": "create", "urn": urn, "newState": state, "oldState": copy.deepcopy(state)}]}


def test_an_unknown_link_is_named_as_unknown_never_by_its_placeholder() -> None:
    """Regression (found by the fuzz test above): a read replica whose source, or a group whose launch
    template, is unknown until deploy printed the preview's placeholder in the reason."""
    replica = _one_step(
        "urn:pulumi:fuzz::stars::aws:rds/instance:Instance::0",
        "aws:rds/instance:Instance",
        {"instanceType": UNKNOWN, "minSize": UNKNOWN, "replicateSourceDb": UNKNOWN},
    )
    group = _one_step(
        "urn:pulumi:fuzz::stars::aws:autoscaling/group:Group::0",
        "aws:autoscaling/group:Group",
        {"minSize": 1, "maxSize": 2, "desiredCapacity": 1, "launchTemplate": {"id": UNKNOWN}},
    )
    for document, what in ((replica, "read replica's source database"), (group, "launch template")):
        est = estimate_preview(parse_preview_document(document), stack_cfg(), CATALOG, "fuzz")
        [unpriced] = est.unpriced
        assert f"{what} (unknown until deploy) not found among the planned resources" in unpriced.reason
        assert UNKNOWN not in unpriced.reason


def test_a_long_unmatched_link_is_quoted_cut_short() -> None:
    """A reference that names nothing planned is quoted in the reason, at most 80 characters of it."""
    group = _one_step(
        "urn:pulumi:fuzz::stars::aws:autoscaling/group:Group::0",
        "aws:autoscaling/group:Group",
        {"minSize": 1, "maxSize": 2, "desiredCapacity": 1, "launchTemplate": {"id": "lt-" + "x" * 10_000}},
    )
    [unpriced] = estimate_preview(parse_preview_document(group), stack_cfg(), CATALOG, "fuzz").unpriced
    assert unpriced.reason.startswith("launch template 'lt-xxx") and len(unpriced.reason) < 200


@st.composite
def instance_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A preview of one standalone EC2 instance with inputs of the real shape, some opaque or malformed."""
    urn = "urn:pulumi:fuzz::stars::aws:ec2/instance:Instance::box"
    keys = draw(st.lists(st.sampled_from(INSTANCE_KEYS), unique=True, max_size=len(INSTANCE_KEYS)))
    inputs = {key: draw(INPUT_VALUES.get(key, json_values)) for key in ("instanceType", *keys)}
    if draw(st.booleans()):
        inputs = _sprinkle(inputs, draw)
    state = {"urn": urn, "type": "aws:ec2/instance:Instance", "custom": True, "inputs": inputs}
    return {"config": {"aws:region": "us-east-1"}, "steps": [{"op": "create", "urn": urn, "newState": state}]}


@FUZZ
@given(instance_documents())
def test_a_standalone_instance_is_priced_or_refused_naming_why(document: dict[str, Any]) -> None:
    est = estimate_preview(parse_preview_document(document), stack_cfg(), CATALOG, "fuzz")
    assert len(est.priced) + len(est.unpriced) == 1
    for priced in est.priced:
        for item in priced.lines:
            for size in ("min", "desired", "max"):
                cost = item.monthly(size)
                assert cost == cost and 0 <= cost < float("inf"), (item.name, cost)
    for unpriced in est.unpriced:
        assert unpriced.reason and not unpriced.reason.startswith("unexpected inputs"), unpriced.reason
        assert f"'{UNKNOWN}'" not in unpriced.reason and SECRET not in unpriced.reason.replace(
            "a secret in the preview", ""
        ), unpriced.reason


stack_values = st.dictionaries(
    st.sampled_from(
        ["aws:region", "stars:phase", "stars:api", "stars:database", "stars:budget", "stars:usage", "stars:x"]
    )
    | st.text(max_size=15),
    json_values,
    max_size=6,
)


@FUZZ
@given(stack_values)
def test_any_stack_config_is_valid_or_a_config_error(values: dict[str, Any]) -> None:
    try:
        parse_stack_config("fuzz", values)
    except ConfigError as exc:
        assert str(exc).startswith("invalid stack configuration")


@FUZZ
@given(st.text(max_size=200) | json_values.map(lambda v: yaml.safe_dump({"config": v})))
def test_any_stack_file_is_read_or_refused(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("stack") / "Pulumi.fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        parse_stack_config("fuzz", read_stack_file(path))
    except ConfigError:
        return


@FUZZ
@given(json_values)
def test_any_json_is_a_report_or_a_report_error(document: Any) -> None:
    try:
        CostReport.from_json(document)
    except ReportError as exc:
        assert "\n" not in str(exc), str(exc)  # one line, whatever the document holds


def _mutations(doc: Any) -> st.SearchStrategy[Any]:
    """The golden report with one value somewhere replaced by anything."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node[:3]):
                walk(value, (*path, i))

    walk(doc, ())

    def mutate(args: tuple[tuple[Any, ...], Any]) -> Any:
        path, value = args
        copy = json.loads(json.dumps(doc))
        if not path:
            return value
        node = copy
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return copy

    return st.tuples(st.sampled_from(paths), json_values).map(mutate)


GOLDEN_STACK = json.loads((GOLDEN / "check-all.json").read_text(encoding="utf-8"))["stacks"][0]


@FUZZ
@given(_mutations(GOLDEN_STACK))
def test_a_report_with_one_bad_value_is_read_or_refused(document: Any) -> None:
    try:
        report = CostReport.from_json(document)
    except ReportError as exc:
        assert "\n" not in str(exc), str(exc)  # one line, whatever the document holds
        return
    report.dumps()  # what was read writes back (every figure read is one a float holds)


PHASE1 = read_stack_file(Path(__file__).resolve().parents[2] / "Pulumi.phase1.yaml")
SERVER_BLOCKS = ("stars:api", "stars:realtime", "stars:app")
#: Values the lean options parse: layouts, egress modes, commitments, types and regions.
FIELD_VALUES = {
    ("stars:network", "private_egress"): st.sampled_from(["nat", "endpoints", "none", "public", "ipv6", ""]),
    ("stars:database", "commitment"): st.sampled_from(["none", "reserved_1yr", "reserved_3yr", None, 1]),
    ("stars:cache", "commitment"): st.sampled_from(["none", "reserved_1yr", "savings_plan"]),
    ("stars:cache", "node_type"): st.sampled_from(
        ["cache.t3.micro", "cache.t4g.micro", "cache.t4g.small", "x"]
    ),
    ("stars:database", "instance_class"): st.sampled_from(["db.t4g.micro", "db.t3.small", "db.m5.large"]),
    # the keys this version added: each bounded, each refused in one line out of its range or type
    ("stars:cdn", "free_asset_distributions"): st.sampled_from([0, 1, 3, 4, -1, "2", 2.5, None]),
    ("stars:cdn", "free_asset_share"): st.sampled_from([0.0, 0.05, 1.0, -0.1, float("nan"), "x"]),
    ("stars:usage", "s3_infrequent_share"): st.sampled_from([0.0, 0.5, 1.0, 1.01, -1, float("inf"), "half"]),
    ("stars:demand", "api_keep_alive_s"): st.sampled_from([0, 5, 3600, 3601, -5, float("nan"), [5]]),
    ("stars:loadBalancer", "websocket_origin"): st.sampled_from(["load_balancer", "vpc_origin", "cdn", 1]),
}
SERVER_FIELDS = {
    "db_pool_size": st.sampled_from([None, 1, 7, 100, 0, 101, -3, "20", 2.5]),
    "instance_type": st.sampled_from(["t4g.small", "m7g.large", "c7g.large", "c6g.xlarge", "t3.nano"]),
    "commitment": st.sampled_from(["none", "reserved_1yr", "RESERVED"]),
    "min_size": st.integers(-1, 3),
    "spot": st.sampled_from([{"enabled": True, "spot_percentage": 100}, {"enabled": False}]),
}


@st.composite
def lean_stack_values(draw: st.DrawFn) -> dict[str, Any]:
    """Phase 1's stack file with its server layout, egress, commitments, types and region redrawn."""
    values = copy.deepcopy(PHASE1)
    template = values["stars:realtime"]
    for block in SERVER_BLOCKS:
        values.pop(block, None)
        if draw(st.booleans()):
            group = dict(template)
            for key, strategy in SERVER_FIELDS.items():
                if draw(st.booleans()):
                    group[key] = draw(strategy)
            values[block] = group if draw(st.integers(0, 9)) else json.dumps(group)  # mapping or JSON text
    for (block, key), strategy in FIELD_VALUES.items():
        if draw(st.booleans()):
            values[block] = {**values[block], key: draw(strategy)}
    values["aws:region"] = draw(st.sampled_from(["af-south-1", "eu-west-1", "us-east-1"]))
    return values


@FUZZ
@given(lean_stack_values())
def test_lean_option_configs_are_valid_or_a_config_error(values: dict[str, Any]) -> None:
    try:
        cfg = parse_stack_config("fuzz", values)
    except ConfigError as exc:
        assert str(exc).startswith("invalid stack configuration:\n  ")
        assert "stars:<stack>" not in str(exc)  # every line names its key
        return
    assert set(cfg.server_tiers) in ({"app"}, {"api", "realtime"})
    unavailable = UNAVAILABLE_IN_REGION.get(cfg.region, {})
    chosen = [t.instance_type for t in cfg.server_tiers.values()]
    assert not {*chosen, cfg.database.instance_class, cfg.cache.node_type} & set(unavailable)
    for tier in cfg.server_tiers.values():
        assert tier.commitment == "none" or tier.always_on_demand > 0
        assert tier.db_pool_size is None or 1 <= tier.db_pool_size <= 100
    assert 0 <= cfg.usage.s3_infrequent_share <= 1
    assert 0 <= cfg.cdn.free_asset_distributions <= 3 and 0 <= cfg.cdn.free_asset_share < 1
    assert cfg.demand is not None and 0 <= cfg.demand.api_keep_alive_s <= 3600


#: Pieces of YAML that hostile stack files are made of: anchors and aliases (of plain values and of
#: collections), flow and block nesting, tags, documents, control characters.
YAML_PIECES = st.sampled_from(
    [
        "&a ",
        "*a",
        "&b [",
        "*b",
        "[",
        "]",
        "{",
        "}",
        ", ",
        ": ",
        "- ",
        "\n",
        "\n  ",
        "config:",
        "lol",
        "stars:budget:",
        "limit_tzs: ",
        "1e308",
        ".inf",
        "!!python/object:os.system ",
        "---\n",
        "? ",
        "|\n  ",
        '"',
        "'",
        "\t",
        "\x00",
        "\ufeff",
        "%YAML 1.1\n",
        "<<: *a",
    ]
)
yaml_texts = st.lists(YAML_PIECES | st.text(max_size=8), max_size=60).map("".join) | st.integers(0, 3000).map(
    lambda n: "config: " + "[" * n + "]" * n
)


def _one_line(error: Exception) -> None:
    message = str(error)
    assert message and "\n" not in message and len(message) < 600, message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yaml_texts)
def test_a_hostile_stack_file_is_read_or_refused_in_one_line(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("stack") / "Pulumi.fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        values = read_stack_file(path)
    except ConfigError as exc:  # the CLI's exit 2
        _one_line(exc)
        return
    assert isinstance(values, dict)
    try:
        parse_stack_config("fuzz", values)
    except ConfigError as exc:  # one line per bad key, each short
        assert all(len(line) < 400 for line in str(exc).splitlines()), str(exc)


#: Pieces of JSON that hostile preview files are made of.
JSON_PIECES = st.sampled_from(
    [
        '{"steps": [',
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        '"a"',
        '"steps"',
        "NaN",
        "Infinity",
        "1e999",
        "-0",
        '"\\ud800"',
        "null",
        "true",
        "\x00",
        "\ufeff",
        '{"op": "create", "urn": "u", "newState": ',
    ]
)
preview_texts = (
    st.lists(JSON_PIECES | st.text(max_size=6), max_size=60).map("".join)
    | st.integers(0, 5000).map(lambda n: '{"steps": [' + "[" * n + "]" * n + "]}")
    | documents().map(json.dumps)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(preview_texts)
def test_a_hostile_preview_file_is_read_or_refused_in_one_line(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("preview") / "preview.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        preview = load_preview(path)
    except PreviewError as exc:  # the CLI's exit 2
        _one_line(exc)
        return
    assert all(isinstance(r.urn, str) for r in preview.resources)
