"""The result of ``budget fit`` for one stack: one typed model that every format reads.

``fit --format json`` prints :meth:`FitReport.to_json`; the table, Markdown and the HTML report read the
same objects, and a saved document reads back with :func:`parse_fit` (``to_json(from_json(doc)) == doc``
for every document ``fit`` writes; a test holds it). Nothing re-parses another format's output.

JSON fields users' scripts read (kept exactly; more may be added): ``stack, limit_tzs, fits, plan{total_tzs,
config}, best{total_tzs, tzs_per_1000_users, changes[{key, from, to}], config, capacity{connections,
deliveries_per_s, api_rps}}, alternatives[], min_limit_tzs, max_users_within_limit, deciding_assumption``.
Configs are in the stack file's own shape (``aws:region``, ``stars:api`` ...) and read back as the
:class:`~components.config.StackConfig` they describe; the demand is the stack's own
:class:`~components.config.DemandConfig`; the traffic, capacity model and search statistics are typed here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    computed_field,
)

from budget.capacity import CapacityModel, Figure
from budget.deflate import WireRatio
from budget.demand import Traffic
from budget.exit_codes import ExitCode
from budget.fit.aurora import FLOOR_ACU, AuroraFloor
from components.config import (
    CONFIG_KEYS,
    NAMESPACE,
    ConfigError,
    DemandConfig,
    StackConfig,
    parse_stack_config,
)

SCHEMA: Final = "stars-fit/1"
#: What became of a lever: taken, weighed and turned down, not for this stack, or waiting on an input.
LeverStatus = Literal["used", "rejected", "not_applicable", "needs_input"]


class FitReportError(ValueError):
    """A document that is not a readable fit report; commands turn it into exit code 2."""


def stack_file_config(cfg: StackConfig) -> dict[str, Any]:
    """A config as the stack file writes it: ``aws:region`` and one ``stars:<key>`` block each."""
    dumped = cfg.model_dump(mode="json", exclude_none=False)
    out: dict[str, Any] = {"aws:region": cfg.region}
    for key, name in CONFIG_KEYS.items():
        value = dumped.get(name)
        if value is not None:
            out[f"{NAMESPACE}:{key}"] = value
    return out


def _read_stack_file_config(value: Any, info: ValidationInfo) -> Any:
    """A config in the stack file's shape reads as the StackConfig it describes. The stack's name is not a
    key of the file (it is the file's name): :func:`result_from_json` passes the report's own."""
    if not isinstance(value, Mapping):
        return value  # a StackConfig built in this process, or a value pydantic refuses by its type
    stack = (info.context or {}).get("stack")
    if not isinstance(stack, str):
        raise ValueError("a configuration is read with its report's stack name (read it with parse_fit)")
    try:
        return parse_stack_config(stack, value)
    except ConfigError as exc:
        head, *keys = (line.strip() for line in str(exc).splitlines())
        raise ValueError(" ".join([head, "; ".join(keys)]).strip()) from None  # one line


#: A StackConfig written and read in the stack file's shape (``aws:region``, ``stars:<key>`` blocks).
StackFileConfig = Annotated[
    StackConfig,
    BeforeValidator(_read_stack_file_config),
    PlainSerializer(stack_file_config, return_type=dict[str, Any]),
]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


class _Model(BaseModel):
    """Frozen; unknown keys of a newer document are ignored, missing ones take their defaults."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Change(_Model):
    """One stack-file key whose value the proposal changes (``stars:<block>.<key>``)."""

    key: str
    from_: Any = Field(alias="from")
    to: Any


def changes(before: StackConfig, after: StackConfig) -> list[Change]:
    """Every config key whose value differs, in the stack file's naming; a block the new config no longer
    has (``stars:api`` when one ``stars:app`` group replaces two) is one change."""
    old_blocks, new_blocks = stack_file_config(before), stack_file_config(after)
    old, new = flatten(old_blocks), flatten(new_blocks)
    gone = [k for k in old_blocks if k not in new_blocks]
    keys = [k for k in new if old.get(k, None) != new[k]]
    keys += [k for k in old if k not in new and k.split(".")[0] not in gone]
    # by the document's field names ("from"): mypy, without pydantic's plugin, knows only the alias
    out = [Change.model_validate({"key": k, "from": old.get(k), "to": new.get(k)}) for k in keys]
    return out + [Change.model_validate({"key": k, "from": old_blocks[k], "to": None}) for k in gone]


class SizeTzs(_Model):
    """Whole TZS a month at the fleets' minimum, desired and maximum sizes."""

    min: int
    desired: int
    max: int


class Capacity(_Model):
    """What a configuration's servers carry at their max size, in the demand's units."""

    connections: int = 0
    deliveries_per_s: int = 0
    api_rps: int = 0


class TierAzLoss(_Model):
    """One server group with one zone lost: the servers left and whether they carry the peak."""

    group: str
    #: The group's minimum size, which the check judges (CPU target tracking may keep it there at peak).
    servers: int
    max_servers: int = 0
    zones: int
    #: On-demand servers left when the lost zone held as many of them as it could: spot servers are not
    #: counted, since spot capacity is scarcest while a zone is down (and the reference puts t4g.small in
    #: af-south-1 in the worst interruption band).
    left_with_zone_lost: int
    needed_at_peak: int
    carries: bool
    #: Of ``servers``, how many run on spot (above the group's on-demand base).
    spot_servers: int = 0


class AzLoss(_Model):
    """Whether the configuration carries its peak demand with one availability zone lost."""

    required: bool
    carries: bool
    zones: int
    servers: list[TierAzLoss] = Field(default_factory=list)
    data_stores: str = ""
    statement: str = ""


class DbConnections(_Model):
    """Whether the database takes every connection the servers' pools may open at max size, and while
    an instance refresh runs a group's replacements beside it."""

    instance_class: str
    max_connections: int
    superuser_reserved: int
    admin_margin: int
    processes_at_max: int
    needed_per_process: int
    #: The pool each process gets (STARS_DB_POOL_SIZE, overflow 0); None when no pool size fits.
    pool_per_process: int | None = None
    opened_at_max: int
    fits: bool
    #: Processes while an instance refresh replaces a group at max size (launch before terminate), and the
    #: connections their pools may open then: what must fit.
    processes_in_refresh: int = 0
    opened_in_refresh: int = 0
    statement: str = ""


class UsageDrift(_Model):
    """A ``stars:usage`` figure the stack file states that its own ``stars:demand`` does not give."""

    key: str
    stated: float
    derived: float


class PlanFigures(_Model):
    """A configuration and what it costs (TZS a month at each size)."""

    total_tzs: int
    totals_tzs: SizeTzs
    tzs_per_1000_users: int
    by_tier_tzs: dict[str, int] = Field(default_factory=dict)
    capacity: Capacity = Field(default_factory=Capacity)
    carries_demand: bool | None = None
    az_loss: AzLoss | None = None
    db_connections: DbConnections | None = None
    #: On the plan's row: usage figures the file states that its demand contradicts (check prices the
    #: file as written; the search prices the demand), so the row is not mistaken for the demand's cost.
    usage_drift: list[UsageDrift] = Field(default_factory=list)
    #: The configuration priced (``--write`` writes the best one and compares the file against it).
    config: StackFileConfig


class Proposal(PlanFigures):
    """A configuration the search proposes, as it differs from the plan."""

    summary: str = ""
    availability: str = ""
    latency: str = ""
    #: Why a runner-up is shown: within 10% of the cheapest, or the cheapest that survives an AZ's loss...
    relation: str = ""
    #: The keys of the cost levers this configuration takes (``budget.fit.lever_use.LEVERS``).
    levers: list[str] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)


class Assumption(_Model):
    """A usage assumption the verdict rests on, and the value at which the cheapest plan would fit."""

    key: str
    stated: float | None
    fits_at: float | None
    unit: str
    why: str
    #: How far it must move, as a share of the stated value (only on the deciding assumption).
    change: float | None = None
    #: The headroom the verdict was searched at (capacity kept spare on every server).
    headroom: float | None = None

    def text(self) -> str:
        """One line: the assumption, where the cheapest plan fits, and at which headroom."""
        at = f" at {self.headroom:.0%} headroom" if self.headroom is not None else ""
        if self.key == "fixed_costs" or self.stated is None:
            return self.why
        fits = "no value fits" if self.fits_at is None else f"the cheapest plan fits at {self.fits_at:g}"
        change = f" ({100 * self.change:.0f}% change)" if self.change is not None else ""
        return f"{self.key}: stated {self.stated:g} {self.unit}; {fits}{change}{at} ({self.why})"


class Verdict(_Model):
    """The cheapest plan's cost and verdict at one value of an assumption."""

    value: float
    total_tzs: int | None
    tzs_per_1000_users: int | None
    fits: bool


class Sensitivity(_Model):
    """The verdict as the two assumptions that move it most change over their plausible ranges."""

    transfer_gb_per_user_per_month: list[Verdict] = Field(default_factory=list)
    headroom: list[Verdict] = Field(default_factory=list)


class Lever(_Model):
    """A way an AWS cost expert lowers the bill: used in the cheapest plan, or rejected and why."""

    key: str
    title: str
    status: LeverStatus
    #: TZS a month the cheapest plan saves with it (used), or would save / lose (rejected); None: not priced.
    saves_tzs: int | None = None
    #: needs_input: the cheapest plan's TZS a month if the owner takes the lever, and its verdict.
    total_tzs: int | None = None
    fits: bool | None = None
    why: str = ""
    sources: list[str] = Field(default_factory=list)
    #: The assumption the lever's verdict rests on, with its stated value and source (None: none named).
    deciding_assumption: str | None = None
    #: needs_input and fits: the verdict with the lever taken, over the same ranges as the stack's own
    #: (the owner sees how firm the verdict that leads the report is).
    sensitivity: Sensitivity | None = None


class AuroraReport(_Model):
    """Aurora Serverless v2's floor in place of the cheapest plan's database (see budget/fit/aurora.py)."""

    deployable: bool = False
    acu_per_instance: float
    instances: int
    storage_gb: float
    floor_tzs: int
    database_tzs: int
    cheaper_than_database: bool
    best_with_floor_tzs: int
    zero_traffic_with_floor_tzs: int | None = None
    would_fit: bool
    why: str
    sources: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, floor: AuroraFloor) -> Self:
        return cls(
            acu_per_instance=FLOOR_ACU,
            instances=floor.instances,
            storage_gb=floor.storage_gb,
            floor_tzs=floor.floor_tzs,
            database_tzs=floor.database_tzs,
            cheaper_than_database=floor.cheaper_than_database,
            best_with_floor_tzs=floor.best_with_floor_tzs,
            zero_traffic_with_floor_tzs=floor.zero_traffic_with_floor_tzs,
            would_fit=floor.would_fit,
            why=floor.why(),
            sources=list(floor.sources),
        )


class DeflateFigures(_Model):
    """The delivered frames' bytes on the wire over their own, and the kept run the ratio comes from."""

    ratio: float
    saved: float
    frame: str | None
    source: str | None
    why: str

    @classmethod
    def of(cls, wire: WireRatio) -> Self:
        return cls(
            ratio=round(wire.ratio, 4),
            saved=round(1 - wire.ratio, 4),
            frame=wire.frame or None,
            source=wire.source or None,
            why=wire.why,
        )


class TrafficFigures(_Model):
    """A month of the demand's bytes (:class:`budget.demand.Traffic`), GB to 2 decimals: what the users
    consume, what leaves on the wire, and the real-time frames raw and sent."""

    total_gb: float
    wire_gb: float
    websocket_raw_gb: float
    websocket_gb: float
    deflate_saved_gb: float
    websocket_upload_gb: float
    static_gb: float
    api_gb: float
    deflate: DeflateFigures

    @classmethod
    def of(cls, traffic: Traffic) -> Self:
        gb = {name: round(getattr(traffic, name), 2) for name in cls.model_fields if name != "deflate"}
        return cls.model_validate({**gb, "deflate": DeflateFigures.of(traffic.deflate)})


class CapacityModelFigures(_Model):
    """The capacity model's settings and the measured figures (each with its run) the plans were sized on."""

    headroom: float
    arm64_speed: float
    cpu_target_percent: int
    runs: list[str] = Field(default_factory=list)
    figures: dict[str, Figure] = Field(default_factory=dict)

    @classmethod
    def of(cls, model: CapacityModel) -> Self:
        settings = model.settings
        return cls(
            headroom=settings.headroom,
            arm64_speed=settings.arm64_speed,
            cpu_target_percent=settings.cpu_target_percent,
            runs=list(model.measured.runs),
            figures=model.measured.figures(),
        )


class SearchStats(_Model):
    """What the search weighed: shapes, tier plans and estimates priced, and the shapes it turned down."""

    shapes: int
    tier_plans: int
    estimates: int
    rejected: list[str] = Field(default_factory=list)


class FitReport(_Model):
    """One stack's answer."""

    schema_: Literal["stars-fit/1"] = Field(default=SCHEMA, alias="schema")
    stack: str
    limit_tzs: int
    usd_to_tzs: float
    users: int
    availability: str
    fits: bool
    exit_code: int
    #: The headroom the verdict is searched at (``--headroom``), named in the deciding assumption.
    headroom: float | None = None
    plan: PlanFigures
    best: Proposal | None
    verified: bool = False
    alternatives: list[Proposal] = Field(default_factory=list)
    min_limit_tzs: int | None = None
    max_users_within_limit: int | None = None
    deciding_assumption: Assumption | None = None
    assumptions: list[Assumption] = Field(default_factory=list)
    verdicts_by_headroom: list[Verdict] = Field(default_factory=list)
    sensitivity: Sensitivity = Field(default_factory=Sensitivity)
    levers: list[Lever] = Field(default_factory=list)
    zero_traffic_tzs: int | None = None
    zero_traffic_by_tier_tzs: dict[str, int] = Field(default_factory=dict)
    #: The sections below are always written by ``fit``; None only in a document written without them.
    demand: DemandConfig | None = None
    #: The month's bytes the demand implies: what the users consume, what leaves on the wire, and the
    #: permessage-deflate ratio with the kept run it comes from.
    traffic: TrafficFigures | None = None
    capacity_model: CapacityModelFigures | None = None
    notes: list[str] = Field(default_factory=list)
    aurora_serverless_v2: AuroraReport | None = None
    search: SearchStats | None = None

    @property
    def deciding_text(self) -> str:
        return self.deciding_assumption.text() if self.deciding_assumption else ""

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form; mypy lacks the plugin
    @property
    def fits_with_domain(self) -> bool | None:
        """Whether the phase fits once the owner names a domain of their own (the ``domain`` lever
        waiting on that input); None when the stack already names one or the lever was not priced.

        An AWS cost expert prices a phase with the company's domain on the load balancer (a free ACM
        certificate): this is the verdict to compare with such a plan, ``fits`` the one fit can write."""
        lever = self.domain_lever
        return None if lever is None else lever.fits

    @property
    def domain_lever(self) -> Lever | None:
        """The domain lever when it waits on the owner's input and was priced."""
        for lever in self.levers:
            if lever.key == "domain" and lever.status == "needs_input" and lever.total_tzs is not None:
                return lever
        return None


class FitFailure(_Model):
    """A stack that could not be fitted (bad config, no demand block, unusable measurements): exit 2."""

    schema_: Literal["stars-fit/1"] = Field(default=SCHEMA, alias="schema")
    stack: str
    status: Literal["error"] = "error"
    exit_code: int = int(ExitCode.INVALID)
    error: str


FitResult = FitReport | FitFailure


def dumps(results: Sequence[FitResult], many: bool) -> str:
    data = {"stacks": [r.to_json() for r in results]} if many else results[0].to_json()
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def result_from_json(data: Any) -> FitResult:
    """One stack's entry of a ``fit --format json`` document."""
    if not isinstance(data, Mapping):
        raise FitReportError(f"a fit report entry must be an object, got {str(data)[:60]!r}")
    model: type[FitReport] | type[FitFailure] = FitFailure if data.get("status") == "error" else FitReport
    try:  # the stack's name reads each config of the report (a stack file does not name its stack)
        return model.model_validate(data, context={"stack": data.get("stack")})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        msg = first["msg"].removeprefix("Value error, ")
        raise FitReportError(f"fit report for {data.get('stack', '?')}: {where}: {msg}") from None


def parse_fit(data: Any) -> list[FitResult]:
    """Every stack of a saved ``fit --format json`` document (one stack, or ``{"stacks": [...]}``)."""
    if isinstance(data, Mapping) and "stacks" in data:
        entries = data["stacks"]
        if not isinstance(entries, list):
            raise FitReportError("'stacks' must be a list")
        return [result_from_json(e) for e in entries]
    return [result_from_json(data)]


def reports_by_stack(results: list[FitResult]) -> dict[str, FitReport]:
    """Each fitted stack's report by name (stacks that could not be fitted are left out)."""
    return {r.stack: r for r in results if isinstance(r, FitReport)}
