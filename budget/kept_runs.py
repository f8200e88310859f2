"""The benchmark runs kept in ``bench/measured/``, as typed documents: what pricing reads of them.

``python -m bench --json FILE ...`` writes one document per file: ``{"machine": {...}, "runs": [...]}`` (or
a single run), each run named by its ``benchmark``. The capacity model (``budget.capacity``) reads the
fan-out runs of the ``rooms`` workload (not sweeps), the ``api`` runs and the ``db`` runs; every other run
is left alone. Each run it reads must carry every field the model needs: a renamed or missing field is
a :class:`KeptRunError` naming the file, the run and the field, never a silent zero that would quietly
move every figure. Values the benchmark itself leaves null (a percentile of no samples, a cost per query
of no queries) are None here and count as "not measured" (no window qualifies on them). Fields the
runs carry beyond these are ignored: a run holds far more than pricing reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    model_validator,
)

from components.bounded_input import MIB, InputError, read_json

#: A kept run document larger than this is not one (the largest kept is under 100 KB): refused, not read.
MAX_RUN_BYTES = 16 * MIB


class KeptRunError(ValueError):
    """A kept run cannot be read, or lacks a field pricing needs: one line naming the file and field."""


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Memory(_Doc):
    """A fan-out run's server memory: its RSS before any connection, and per connection held."""

    rss_before_mb: float
    rss_per_conn_kb: float


class HoldWindow(_Doc):
    """A fan-out window with messages published."""

    idle: Literal[False, None] = None
    window: int
    passed: bool = Field(alias="pass")
    lost: int
    p99_ms: float | None
    connections_open: int
    server_cpu_cores: float
    deliveries_per_s: float
    delivered: int
    redis_cpu_s: float


class IdleWindow(_Doc):
    """A fan-out window with nothing published (``fanout --idle``): what held connections cost."""

    idle: Literal[True]
    window: int
    passed: bool = Field(alias="pass")
    connections_open: int
    server_cpu_cores: float


def _window_kind(value: Any) -> str:
    idle = value.get("idle") if isinstance(value, dict) else getattr(value, "idle", None)
    return "idle" if idle else "hold"


Window = Annotated[
    Annotated[HoldWindow, Tag("hold")] | Annotated[IdleWindow, Tag("idle")], Discriminator(_window_kind)
]


class FanoutServer(_Doc):
    """The server's side of a fan-out run (``servers.ours``)."""

    memory: Memory
    server_processes: int
    connect_failures: int
    connections_held_at_end: int
    windows: list[Window]


class FanoutParams(_Doc):
    workload: str
    sweep: bool
    workers: int


class FanoutServers(_Doc):
    ours: FanoutServer


class FanoutRun(_Doc):
    """A fan-out run of the ``rooms`` workload at steady rates (its windows hold or idle)."""

    benchmark: str
    params: FanoutParams
    servers: FanoutServers


class ApiWindow(_Doc):
    """One target rate of an ``api`` run."""

    target_rps: int | float
    passed: bool = Field(alias="pass")
    errors: int
    throughput_rps: float
    server_cpu_us_per_request: float
    db_cpu_cores: float
    db_queries_per_s: float
    redis_cpu_cores: float


class ApiRun(_Doc):
    benchmark: Literal["api"]
    windows: list[ApiWindow]


class DbQueries(_Doc):
    db_cpu_us_per_query: float | None
    p99_ms: float | None


class DbRun(_Doc):
    """A ``db`` run; one written before the per-query figures existed has no ``queries`` (not counted)."""

    benchmark: Literal["db"]
    queries: DbQueries | None = None


KeptRun = FanoutRun | ApiRun | DbRun


class DeflateFrame(_Doc):
    """One frame of a ``deflate`` run: its bytes plain and as the runtime sends it compressed."""

    frame: StrictStr
    plain_bytes: StrictInt
    deflated_bytes: StrictInt

    @model_validator(mode="after")
    def _no_larger(self) -> Self:
        if not 0 < self.deflated_bytes <= self.plain_bytes:
            raise ValueError("needs 0 < deflated_bytes <= plain_bytes")
        return self


class DeflateRun(_Doc):
    """A ``deflate`` run (``python -m bench deflate``), kept as ``bench/measured/**/deflate.json``."""

    benchmark: Literal["deflate"]
    frames: list[DeflateFrame]


def _is_steady_rooms(run: dict[str, Any]) -> bool:
    """A fan-out run of the rooms workload that is not a sweep (a sweep's windows step up to failure)."""
    params = run.get("params")
    if not isinstance(params, dict):
        return False
    return params.get("workload") == "rooms" and not params.get("sweep")


def _model_of(run: dict[str, Any]) -> type[KeptRun] | None:
    """The model a run is read with, by its ``benchmark``; None for a run pricing does not read."""
    bench = run["benchmark"]
    if bench.startswith("fanout"):
        return FanoutRun if _is_steady_rooms(run) else None
    others: dict[str, type[KeptRun]] = {"api": ApiRun, "db": DbRun}
    return others.get(bench)


#: The tags of a window's kind, which pydantic puts in an error's location after the window's index.
_KINDS = ("hold", "idle")


def _where(loc: tuple[int | str, ...]) -> str:
    """An error's location as a path (``servers.ours.windows[0].p99_ms``), without the kind tags."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif not (part in _KINDS and i and isinstance(loc[i - 1], int)):
            out += f".{part}" if out else part
    return out


def refusal(source: str, where: str, exc: ValidationError) -> str:
    """One line for a run that does not validate: the file, the run, the first field at fault and why."""
    first = exc.errors()[0]
    field = f"{where} {_where(first['loc'])}".rstrip()
    msg = first["msg"]
    why = str(first["ctx"]["error"]) if first["type"] == "value_error" else msg[:1].lower() + msg[1:]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {field}: {why}{more}"


def _runs_of(source: str, data: Any) -> list[Any]:
    if isinstance(data, dict) and "runs" in data:
        if not isinstance(data["runs"], list):
            raise KeptRunError(f"{source}: runs: not a list")
        return list(data["runs"])
    return [data]


def read_runs(path: Path) -> tuple[str, list[KeptRun]]:
    """A kept file's label (its name and the day it was run) and the runs pricing reads, each checked."""
    try:
        data = read_json(path, MAX_RUN_BYTES)
    except InputError as exc:
        raise KeptRunError(f"{path.name}: cannot read the kept run: {exc}") from None
    machine = data.get("machine") if isinstance(data, dict) else None
    when = str(machine.get("time_utc", ""))[:10] if isinstance(machine, dict) else ""
    label = path.name + (f" ({when})" if when else "")
    runs: list[KeptRun] = []
    for i, run in enumerate(_runs_of(path.name, data)):
        where = f"runs[{i}]"
        if not isinstance(run, dict) or not isinstance(run.get("benchmark"), str):
            raise KeptRunError(f"{path.name}: {where}: a run must be an object naming its benchmark")
        model = _model_of(run)
        if model is None:
            continue
        try:
            runs.append(model.model_validate(run))
        except ValidationError as exc:
            raise KeptRunError(refusal(path.name, f"{where} ({run['benchmark']})", exc)) from None
    return label, runs


def read_folder(folder: Path) -> Iterator[tuple[str, list[KeptRun]]]:
    """Every kept file of ``folder`` (``*.json``; sub-folders hold experiments and are not read)."""
    for path in sorted(folder.glob("*.json")):
        yield read_runs(path)
