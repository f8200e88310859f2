"""How many servers of which type carry a phase's demand: from this project's own benchmark runs.

The figures come from the runs kept in ``bench/measured/*.json`` (``python -m bench --json FILE all``),
measured on a shared 2-vCPU machine. A window counts only if it met its target (p99 delivery under
100 ms with nothing lost, or the API's own pass mark): a failed window shows what does *not* work, not
capacity. Runs of the same code drift on a shared machine (a day's `bench api` can be twice as slow as
another's), so each figure is the slowest qualifying window of any kept run, and names that run. Keep a
new run in ``bench/measured/`` and the model reads it on the next call: nothing is copied by hand. When
the runtime changes what a figure measures, its earlier runs move to a sub-folder (kept, not read:
``superseded-2026-12-06/`` holds those of the runtime before its lean publish path and connections). Each
run is read as a typed document (``budget.kept_runs``): a field the model needs that a run lacks is an
error naming the file and the field, never a silent zero.

Real-time CPU = connections x an idle connection's cost + deliveries a second x a delivery's cost. The idle
cost comes from its own run (``python -m bench fanout --idle``: connections held and subscribed, nothing
published: keepalive pings, presence refreshes, token expiry; the server's whole CPU over the connections,
its own timers included); a delivery's cost is a hold window's CPU less what its connections cost idle
(that run's own idle figure, else the lowest kept). What a server holds (memory per connection and per
worker, connections per worker) is read only from holds at the plan's 25,000 connections.

Scaling to an instance type (stated, not measured): CPU work scales with vCPUs at the measured cost per
vCPU (arm64 vCPUs assumed as fast as the measuring machine's: ``arm64_speed``, not measured here);
connections scale with memory at the measured KB per connection plus each worker's base memory, and with
the per-worker connection count a run held; every capacity keeps ``headroom`` spare. A burstable server
may run above its baseline up to the group's CPU target (which the fit sets to ``1 - headroom``), and the
rules bill surplus credits only for the 24-hour average above the baseline (``budget.rules.cpu_load``); a
burstable database may too (RDS runs db.t3/db.t4g unlimited and the RDS rule bills their surplus);
a burstable cache node's 24-hour average is held within the credits its baseline earns (its peak within
the one core Redis uses), so its credits never need pricing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from budget.catalog import Catalog, MissingPrice
from budget.kept_runs import (
    ApiRun,
    ApiWindow,
    DbQueries,
    FanoutRun,
    FanoutServer,
    HoldWindow,
    IdleWindow,
    KeptRun,
    KeptRunError,
    read_folder,
)
from components.config import DemandConfig

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "bench" / "measured"
#: The latency every counted fan-out window met (the plan's WebSocket delivery target).
P99_TARGET_MS = 100.0
#: Memory an instance keeps for the OS, the agent and page cache before any worker (assumption).
OS_RESERVE_MB = 400.0
#: The plan's WebSocket connections per server: a run holding fewer does not show what a server holds.
PLAN_CONNECTIONS_PER_SERVER = 25_000
#: The config's ceiling on worker processes per server.
MAX_WORKERS = 16
#: Presence and session memory in Redis per connection: not measured; one ZSET member and a session key
#: are well under this (assumption, stated in every report).
CACHE_KB_PER_CONNECTION = 1.0


class CapacityError(ValueError):
    """No kept run qualifies for a figure, or an instance's specification is unknown."""


@dataclass(frozen=True)
class Figure:
    """One measured cost, with the run and window it comes from."""

    value: float
    unit: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "source": self.source}


@dataclass(frozen=True)
class Measured:
    """The runtime's costs as measured: the slowest qualifying window of the kept runs, per figure."""

    realtime_us_per_connection: Figure
    realtime_us_per_delivery: Figure
    kb_per_connection: Figure
    worker_base_mb: Figure
    connections_per_worker: Figure
    api_us_per_request: Figure
    db_us_per_statement: Figure
    redis_us_per_delivery: Figure
    redis_us_per_request: Figure
    runs: tuple[str, ...] = ()

    def figures(self) -> dict[str, Figure]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, Figure)}


# ---------------------------------------------------------------------------------------------- reading


def _pick(candidates: Iterable[tuple[float, str]], unit: str, what: str, *, least: bool) -> Figure:
    found = [c for c in candidates if c[0] > 0 and math.isfinite(c[0])]
    if not found:
        raise CapacityError(f"no kept benchmark run qualifies for {what}; keep a full run in bench/measured/")
    value, source = min(found) if least else max(found)
    return Figure(round(value, 4), unit, source)


def _slowest(candidates: Iterable[tuple[float, str]], unit: str, what: str) -> Figure:
    """The highest cost any qualifying window measured."""
    return _pick(candidates, unit, what, least=False)


def _least(candidates: Iterable[tuple[float, str]], unit: str, what: str) -> Figure:
    """The lowest capacity any qualifying window showed."""
    return _pick(candidates, unit, what, least=True)


def _base_mb(ours: FanoutServer) -> float:
    """A server process's memory before any connection: the run's RSS before load over its processes."""
    return ours.memory.rss_before_mb / max(1, ours.server_processes)


class _Hold(NamedTuple):
    """A fan-out window with messages published: what it cost (``ours``: the server's side of the run)."""

    source: str
    run: FanoutRun
    ours: FanoutServer
    window: HoldWindow


class _Idle(NamedTuple):
    """A fan-out window with nothing published: what its held connections cost."""

    source: str
    ours: FanoutServer
    window: IdleWindow


@dataclass
class _Kept:
    """The windows of the kept runs, by kind (fan-out holds and idles, API windows, database runs)."""

    holds: list[_Hold] = field(default_factory=list)
    idle: list[_Idle] = field(default_factory=list)
    api: list[tuple[str, ApiWindow]] = field(default_factory=list)
    db: list[tuple[str, DbQueries]] = field(default_factory=list)

    @classmethod
    def read(cls, folder: Path) -> _Kept:
        kept = cls()
        try:
            for label, runs in read_folder(folder):
                for run in runs:
                    kept.add(label, run)
        except KeptRunError as exc:
            raise CapacityError(f"a kept benchmark run in {folder.name}/: {exc}") from None
        return kept

    def add(self, label: str, run: KeptRun) -> None:
        """File one run's windows (only steady fan-out runs reach here: a sweep's are not capacity)."""
        if isinstance(run, FanoutRun):
            ours = run.servers.ours
            for window in ours.windows:
                where = f"{label} {run.benchmark} window {window.window}"
                if isinstance(window, IdleWindow):
                    self.idle.append(_Idle(where, ours, window))
                else:
                    self.holds.append(_Hold(where, run, ours, window))
        elif isinstance(run, ApiRun):
            self.api += [
                (f"{label} api at {w.target_rps} req/s", w) for w in run.windows if w.passed and w.errors == 0
            ]
        elif run.queries is not None:
            self.db.append((f"{label} db", run.queries))


def _passed(window: HoldWindow, ours: FanoutServer) -> bool:
    """The window met the delivery target: passed, nothing lost, p99 under target, every client connected."""
    p99 = window.p99_ms
    return (
        window.passed
        and window.lost == 0
        and p99 is not None
        and p99 < P99_TARGET_MS
        and ours.connect_failures == 0
    )


def _per(value: float, denominator: float) -> float:
    return value / denominator if denominator else 0.0


def _idle_us(window: IdleWindow) -> float:
    """An idle window's CPU per held connection-second, in microseconds."""
    return 1e6 * _per(window.server_cpu_cores, window.connections_open)


def _idle_cost(idle: list[_Idle]) -> Figure:
    return _slowest(
        ((_idle_us(w), s) for s, _o, w in idle if w.passed and w.connections_open),
        "us of CPU per idle connection-second",
        "realtime CPU per idle connection (a fanout --idle run)",
    )


def _delivery_cost(good: list[_Hold], idle: list[_Idle]) -> Figure:
    """A delivery's CPU: a hold window's CPU less what its open connections cost idle (the run's own idle
    figure, else the lowest kept)."""
    own_idle = {id(o): _idle_us(w) for _s, o, w in idle if w.passed and w.connections_open}
    least_idle = min(own_idle.values())

    def delivery_us(ours: FanoutServer, w: HoldWindow) -> float:
        """A window's CPU per delivery, less what its open connections cost idle."""
        if not w.deliveries_per_s:
            return 0.0
        connections_cores = w.connections_open * own_idle.get(id(ours), least_idle) / 1e6
        return 1e6 * max(0.0, w.server_cpu_cores - connections_cores) / w.deliveries_per_s

    return _slowest(
        ((delivery_us(o, w), s) for s, _r, o, w in good),
        "us per delivery (net of the connections' idle CPU)",
        "realtime CPU per delivery",
    )


def _what_a_server_holds(held: list[_Hold]) -> tuple[Figure, Figure, Figure]:
    """Memory per connection, a worker's base memory and connections per worker, from runs at the plan's
    scale (a smaller one measures fixed costs, and holds less than it could)."""
    kb_per_connection = _slowest(
        ((o.memory.rss_per_conn_kb, s) for s, _r, o, _w in held),
        "KB per connection",
        "memory per connection",
    )
    worker_base_mb = _slowest(
        ((_base_mb(o), s) for s, _r, o, _w in held),
        "MB per process",
        "a worker's base memory",
    )
    connections_per_worker = _least(
        # what a counted run held per worker (capacity is what was shown, not the file limit)
        ((o.connections_held_at_end / max(1, r.params.workers), s) for s, r, o, _w in held),
        "connections per worker",
        "connections per worker",
    )
    return kb_per_connection, worker_base_mb, connections_per_worker


def _db_cost(kept: _Kept) -> Figure:
    """A statement's database CPU: from the API windows, and from db runs that met their p99 (50 ms)."""
    return _slowest(
        [
            *((1e6 * _per(w.db_cpu_cores, w.db_queries_per_s), s) for s, w in kept.api),
            *(
                (q.db_cpu_us_per_query or 0.0, s)
                for s, q in kept.db
                if q.p99_ms is not None and q.p99_ms < 50
            ),
        ],
        "us per statement",
        "database CPU per statement",
    )


def load_measured(folder: Path = MEASURED) -> Measured:
    """Read every kept run in ``folder`` (``*.json``; sub-folders hold experiments and are not read)."""
    kept = _Kept.read(folder)
    good = [h for h in kept.holds if _passed(h.window, h.ours)]
    # what a server holds is shown only by a run at the plan's scale
    held = [h for h in good if h.window.connections_open >= PLAN_CONNECTIONS_PER_SERVER]
    # in the order of the fields, so that the first missing figure is the one reported
    idle_cost = _idle_cost(kept.idle)
    delivery_cost = _delivery_cost(good, kept.idle)
    kb_per_connection, worker_base_mb, connections_per_worker = _what_a_server_holds(held)
    return Measured(
        realtime_us_per_connection=idle_cost,
        realtime_us_per_delivery=delivery_cost,
        kb_per_connection=kb_per_connection,
        worker_base_mb=worker_base_mb,
        connections_per_worker=connections_per_worker,
        api_us_per_request=_slowest(
            ((w.server_cpu_us_per_request, s) for s, w in kept.api),
            "us per request",
            "API CPU per request",
        ),
        db_us_per_statement=_db_cost(kept),
        redis_us_per_delivery=_slowest(
            ((1e6 * w.redis_cpu_s / max(1.0, w.delivered), s) for s, _r, _o, w in good),
            "us per delivery",
            "Redis CPU per delivery",
        ),
        redis_us_per_request=_slowest(
            ((1e6 * _per(w.redis_cpu_cores, w.throughput_rps), s) for s, w in kept.api),
            "us per request",
            "Redis CPU per request",
        ),
        runs=tuple(p.name for p in sorted(folder.glob("*.json"))),
    )


# ------------------------------------------------------------------------------------------ instances


@dataclass(frozen=True)
class Spec:
    """What an instance type offers: vCPUs, memory, and (burstable only) the baseline per vCPU."""

    name: str
    vcpus: float
    memory_gib: float
    baseline: float | None
    arm64: bool
    estimated: bool


def _value(catalog: Catalog, key: str) -> tuple[float, bool]:
    """A specification: a global catalog figure (the same in every region)."""
    price = catalog.global_prices.get(key)
    if price is None:
        raise MissingPrice("global", key)
    return price.amount, not price.confirmed


def spec(catalog: Catalog, family: str, name: str) -> Spec:
    """``family`` is ``ec2``, ``rds`` or ``elasticache``; the figures are the catalog's global entries."""
    try:
        vcpus, e1 = _value(catalog, f"{family}.vcpus.{name}")
        memory, e2 = _value(catalog, f"{family}.memory_gib.{name}")
    except MissingPrice as exc:
        raise CapacityError(f"{name}: the catalog lacks its specification ({exc})") from None
    try:
        baseline, e3 = _value(catalog, f"{family}.burst.{name}.baseline")
    except MissingPrice:
        baseline, e3 = None, False
    kind = name.removeprefix("db.").removeprefix("cache.").split(".")[0]
    return Spec(name, vcpus, memory, baseline, kind.endswith("g"), e1 or e2 or e3)


@dataclass(frozen=True)
class Settings:
    """The named knobs of the model; every report prints them."""

    #: Share of every capacity kept spare (CPU, memory, connections); also sets the CPU scaling target.
    headroom: float = 0.30
    #: arm64 (Graviton) work per vCPU relative to the measuring machine: not measured here.
    arm64_speed: float = 1.0

    @property
    def cpu_target_percent(self) -> int:
        """The groups' target-tracking CPU target, inside the plan's 50-80%."""
        return max(50, min(80, round(100 * (1 - self.headroom))))


@dataclass(frozen=True)
class Load:
    """What one server group must carry at peak."""

    connections: float = 0.0
    deliveries_per_s: float = 0.0
    api_rps: float = 0.0

    def __add__(self, other: Load) -> Load:
        return Load(
            self.connections + other.connections,
            self.deliveries_per_s + other.deliveries_per_s,
            self.api_rps + other.api_rps,
        )


def cores_needed(m: Measured, load: Load) -> float:
    """CPU (measuring-machine cores) a load needs: connections x an idle connection's cost + deliveries/s x
    a delivery's + API requests/s x a request's."""
    return (
        load.connections * m.realtime_us_per_connection.value
        + load.deliveries_per_s * m.realtime_us_per_delivery.value
        + load.api_rps * m.api_us_per_request.value
    ) / 1e6


@dataclass(frozen=True)
class Loads:
    """What the phase's demand puts on each part at peak (one definition: check prices and fit sizes these).

    ``realtime`` the connections and their deliveries, ``api`` the REST requests, the database its
    statements, the cache the pub/sub deliveries and the API's requests (both groups' work)."""

    realtime: Load
    api: Load
    db_statements_per_s: float

    @classmethod
    def of(cls, demand: DemandConfig) -> Loads:
        users = demand.concurrent_users
        return cls(
            realtime=Load(
                connections=users * demand.connections_per_user,
                deliveries_per_s=users * demand.deliveries_per_user_per_second,
            ),
            api=Load(api_rps=users * demand.api_requests_per_user_per_second),
            db_statements_per_s=users * demand.db_statements_per_user_per_second,
        )

    @property
    def cache(self) -> Load:
        return self.realtime + self.api

    def of_group(self, group: str) -> Load:
        """A server group's load: ``realtime``, ``api``, or ``app`` (one group serving both)."""
        loads = {"realtime": self.realtime, "api": self.api, "app": self.realtime + self.api}
        if group not in loads:
            raise ValueError(f"no server group {group!r}: realtime, api or app")
        return loads[group]


@dataclass(frozen=True)
class Sizing:
    """Servers of one type for one load, with what decided the count."""

    instance_type: str
    count: int
    workers: int
    cpu_cores_needed: float
    cpu_cores_per_server: float
    connections_per_server: float
    decided_by: str
    estimated: bool
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class CapacityModel:
    measured: Measured
    catalog: Catalog
    settings: Settings = Settings()

    def cores_for(self, load: Load) -> float:
        """CPU (measuring-machine cores) a load needs: each connection's idle cost (keepalive, presence),
        each delivery's cost and each API request's, as measured apart."""
        return cores_needed(self.measured, load)

    def carried(
        self, cores: float, connections_cap: float = math.inf, alongside: Load = Load()
    ) -> dict[str, float]:
        """What ``cores`` carry of each figure while they also carry ``alongside``'s other figures:
        connections (at most ``connections_cap``, what memory and workers allow), deliveries a second,
        API requests a second."""
        m = self.measured
        a = alongside

        def spare(rest: Load) -> float:
            return max(0.0, cores - self.cores_for(rest)) * 1e6

        return {
            "connections": min(
                connections_cap,
                spare(Load(deliveries_per_s=a.deliveries_per_s, api_rps=a.api_rps))
                / m.realtime_us_per_connection.value,
            ),
            "deliveries_per_s": spare(Load(connections=a.connections, api_rps=a.api_rps))
            / m.realtime_us_per_delivery.value,
            "api_rps": spare(Load(a.connections, a.deliveries_per_s)) / m.api_us_per_request.value,
        }

    def _workers(self, s: Spec) -> tuple[int, float, float]:
        """Worker processes per server and the connections memory and workers allow.

        At least one worker per vCPU (CPU-bound work); more while each added worker lets the server hold
        more connections than its memory already allows (a worker holds what the runs showed, and the
        per-process open-file limit), at most 16 (the config's ceiling).
        """
        m = self.measured

        def allowed(workers: int) -> tuple[float, float]:
            free_mb = s.memory_gib * 1024 - OS_RESERVE_MB - workers * m.worker_base_mb.value
            return max(
                0.0, free_mb
            ) * 1024 / m.kb_per_connection.value, workers * m.connections_per_worker.value

        workers = max(1, int(s.vcpus))
        while workers < MAX_WORKERS:
            memory, by_workers = allowed(workers)
            if by_workers >= memory or min(*allowed(workers + 1)) <= min(memory, by_workers):
                break
            workers += 1
        return workers, *allowed(workers)

    def size_servers(self, instance_type: str, load: Load) -> Sizing:
        """The fewest servers of ``instance_type`` that carry ``load`` with the headroom kept, and the
        fewest workers per server that hold their share of the connections."""
        s = spec(self.catalog, "ec2", instance_type)
        m, h = self.measured, self.settings.headroom
        speed = self.settings.arm64_speed if s.arm64 else 1.0
        cores_per_server = s.vcpus * speed * (1 - h)
        most_workers, by_memory, by_workers = self._workers(s)
        conns_per_server = min(by_memory, by_workers) * (1 - h)
        if load.connections and conns_per_server <= 0:
            raise CapacityError(f"{instance_type}: no memory left for connections after the workers")
        needed = self.cores_for(load)
        by_cpu = math.ceil(needed / cores_per_server - 1e-9) if needed else 0
        by_conns = math.ceil(load.connections / conns_per_server - 1e-9) if load.connections else 0
        count = max(1, by_cpu, by_conns)
        if by_conns > by_cpu:
            decided = "memory per connection" if by_memory < by_workers else "connections per worker"
        else:
            decided = "CPU" if by_cpu else "one server"
        share = load.connections / count
        workers = max(int(s.vcpus), math.ceil(share / (m.connections_per_worker.value * (1 - h)) - 1e-9))
        notes = (f"arm64 assumed {speed:g}x the measured per-vCPU speed (not measured)",) if s.arm64 else ()
        return Sizing(
            instance_type=instance_type,
            count=count,
            workers=min(most_workers, max(1, workers)),
            cpu_cores_needed=round(needed, 4),
            cpu_cores_per_server=cores_per_server,
            connections_per_server=conns_per_server,
            decided_by=decided,
            estimated=s.estimated,
            notes=notes,
        )

    def database_carries(self, instance_class: str, statements_per_s: float) -> bool:
        """Whether a database class sustains the statements at peak within its vCPUs and the headroom. A
        burstable (T-family) class may run above its baseline: RDS runs it unlimited, and the RDS rule
        bills the surplus credits of its 24-hour average above the baseline."""
        s = spec(self.catalog, "rds", instance_class)
        usable = s.vcpus * (1 - self.settings.headroom)
        return statements_per_s * self.measured.db_us_per_statement.value / 1e6 <= usable

    def cache_carries(self, node_type: str, load: Load, peak_to_average: float = 1.0) -> bool:
        """Whether a cache node carries the pub/sub and API cache work at peak (``load``) and keeps the
        presence and session keys of every connection in memory, with the headroom.

        Redis runs its commands on one core, so the peak must fit one core. A burstable node (T family)
        earns CPU credits at its baseline on every vCPU and may spend them on that core: its 24-hour
        average (the peak over ``peak_to_average``) must stay within what it earns, the credit balance
        covering the peak hours. Within that, a node in standard mode is never throttled and one in
        unlimited mode never bills surplus credits, so nothing unpriced is assumed either way.
        """
        s = spec(self.catalog, "elasticache", node_type)
        h = self.settings.headroom
        m = self.measured
        peak = (
            load.deliveries_per_s * m.redis_us_per_delivery.value
            + load.api_rps * m.redis_us_per_request.value
        ) / 1e6
        cpu = peak <= min(1.0, s.vcpus) * (1 - h)
        if s.baseline is not None:
            earned = min(1.0, s.vcpus * s.baseline) * (1 - h)
            cpu = cpu and peak / peak_to_average <= earned
        memory_gib = load.connections * CACHE_KB_PER_CONNECTION / 1024 / 1024
        return cpu and memory_gib <= s.memory_gib * (1 - h)


def load_model(catalog: Catalog, settings: Settings = Settings(), folder: Path = MEASURED) -> CapacityModel:
    return CapacityModel(load_measured(folder), catalog, settings)


# ------------------------------------------------------------------ what the pricing rules read


@dataclass(frozen=True)
class Unmeasured:
    """No measured figures to price a load with, and why: a rule that needs them leaves its resource
    unpriced with this reason (a stack without a demand block needs none)."""

    reason: str


@lru_cache(maxsize=8)
def kept_measured(folder: Path = MEASURED) -> Measured | Unmeasured:
    """The figures of the runs kept in ``folder`` for the pricing inputs (read once per process and
    folder); why there are none, when no run qualifies."""
    try:
        return load_measured(folder)
    except CapacityError as exc:
        return Unmeasured(str(exc))


def average_cores(measured: Measured, demand: DemandConfig, group: str) -> tuple[float, float]:
    """(24-hour average, peak) CPU in measuring-machine cores a server group's load needs: the peak over
    the daily profile's peak-to-average ratio (what unlimited-mode credits are billed on)."""
    peak = cores_needed(measured, Loads.of(demand).of_group(group))
    return peak / demand.peak_to_average, peak


def database_average_cores(measured: Measured, demand: DemandConfig) -> tuple[float, float]:
    """(24-hour average, peak) CPU in cores the database's statements need (all on the primary)."""
    peak = Loads.of(demand).db_statements_per_s * measured.db_us_per_statement.value / 1e6
    return peak / demand.peak_to_average, peak
