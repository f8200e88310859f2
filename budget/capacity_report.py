"""The result of ``budget capacity``: one typed model that the table and the JSON both read.

JSON fields users' scripts read (kept exactly): ``headroom, runs, figures{<name>: {value, unit, source}},
per_server[{instance_type, cpu_cores, connections, deliveries_per_s, api_rps, estimated}`` or
``{instance_type, error}]``. A saved document reads back with :meth:`CapacityReport.model_validate_json`
(a test holds the round trip byte for byte).
"""

from __future__ import annotations

import json
from typing import Self

from pydantic import BaseModel, ConfigDict

from budget.capacity import CapacityError, CapacityModel, Figure, Load
from components.config import EC2_INSTANCE_TYPES


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerCapacity(_Model):
    """What one server of a type carries at the headroom (each figure alone, the others at zero)."""

    instance_type: str
    cpu_cores: float
    connections: int
    deliveries_per_s: int
    api_rps: int
    estimated: bool


class ServerUnsized(_Model):
    """A type the model cannot size, and why (e.g. no memory left for connections after the workers)."""

    instance_type: str
    error: str


class CapacityReport(_Model):
    """The measured figures with their runs, and what one server of each allowed type carries."""

    headroom: float
    runs: list[str]
    figures: dict[str, Figure]
    per_server: list[ServerCapacity | ServerUnsized]

    @classmethod
    def of(cls, model: CapacityModel) -> Self:
        return cls(
            headroom=model.settings.headroom,
            runs=list(model.measured.runs),
            figures=model.measured.figures(),
            per_server=[server_capacity(model, itype) for itype in EC2_INSTANCE_TYPES],
        )

    def dumps(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=1) + "\n"


def server_capacity(model: CapacityModel, instance_type: str) -> ServerCapacity | ServerUnsized:
    """What one server of ``instance_type`` carries (or why it cannot be sized)."""
    try:
        s = model.size_servers(instance_type, Load(connections=1.0))
    except CapacityError as exc:
        return ServerUnsized(instance_type=instance_type, error=str(exc))
    carried = model.carried(s.cpu_cores_per_server, s.connections_per_server)
    return ServerCapacity(
        instance_type=instance_type,
        cpu_cores=round(s.cpu_cores_per_server, 3),
        connections=int(carried["connections"]),
        deliveries_per_s=int(carried["deliveries_per_s"]),
        api_rps=int(carried["api_rps"]),
        estimated=s.estimated,
    )
