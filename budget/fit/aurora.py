"""Aurora Serverless v2: the database engine the search does not deploy, bounded from below.

The program deploys RDS PostgreSQL instances only. Aurora Serverless v2 is billed per ACU-hour with a
floor of 0.5 ACU per instance while any client is connected (it pauses only with no connections, and a
real-time service always has some), plus storage and I/O. How many ACUs carry a phase's statements is not
known here: this project measured PostgreSQL on vCPUs, and no source maps ACUs to vCPUs. So instead of
guessing, this module prices Aurora's *floor* (0.5 ACU per instance, Standard storage, no I/O at all) and
asks the only question a floor can answer: could Aurora change the verdict? If the cheapest plan with its
database replaced by that floor is still over the limit, no Aurora configuration fits either.
"""

from __future__ import annotations

from dataclasses import dataclass

from budget.catalog import Catalog, MissingPrice

#: The lowest capacity an Aurora Serverless v2 instance bills while a client is connected.
FLOOR_ACU = 0.5
ACU_KEY = "rds.aurora.serverless_v2.acu"
STORAGE_KEY = "rds.aurora.storage.standard"


@dataclass(frozen=True)
class AuroraFloor:
    """The least Aurora Serverless v2 could cost a phase, and what the phase would cost with it."""

    instances: int
    storage_gb: float
    floor_tzs: int
    database_tzs: int
    best_with_floor_tzs: int
    zero_traffic_with_floor_tzs: int | None
    limit_tzs: int
    sources: tuple[str, ...]

    @property
    def would_fit(self) -> bool:
        """Whether the cheapest plan, its database swapped for Aurora's floor, is within the limit."""
        return self.best_with_floor_tzs <= self.limit_tzs

    @property
    def cheaper_than_database(self) -> bool:
        return self.floor_tzs < self.database_tzs

    def why(self) -> str:
        az = "one instance" if self.instances == 1 else f"{self.instances} instances in different AZs"
        head = (
            f"not deployable by this program; its floor ({az} at {FLOOR_ACU:g} ACU, {self.storage_gb:g} GB"
            f" Standard storage, no I/O) costs at least TZS {self.floor_tzs:,} a month,"
            f" {'less' if self.cheaper_than_database else 'more'} than the chosen database's"
            f" TZS {self.database_tzs:,}"
        )
        if self.would_fit:
            return (
                f"{head}; with it the cheapest plan could cost TZS {self.best_with_floor_tzs:,}, within"
                f" the limit of TZS {self.limit_tzs:,}: worth building, if the phase's statements fit in"
                " that few ACUs (not measured)"
            )
        zero = (
            ""
            if self.zero_traffic_with_floor_tzs is None
            else f" (TZS {self.zero_traffic_with_floor_tzs:,} with no data transfer at all)"
        )
        return (
            f"{head}; even then the cheapest plan would cost TZS {self.best_with_floor_tzs:,}{zero},"
            f" above the limit of TZS {self.limit_tzs:,}: no Aurora configuration changes the verdict"
        )


def aurora_floor(
    *,
    catalog: Catalog,
    region: str,
    usd_to_tzs: float,
    limit_tzs: int,
    multi_az: bool,
    storage_gb: float,
    best_total_tzs: int,
    database_tzs: int,
    zero_traffic_tzs: int | None = None,
    zero_traffic_database_tzs: int | None = None,
) -> AuroraFloor | None:
    """Aurora's floor for a phase whose cheapest plan costs ``best_total_tzs`` (``database_tzs`` of it
    the RDS database); None when the region has no Aurora price (nothing is claimed without one)."""
    try:
        acu = catalog.get(region, ACU_KEY)
        storage = catalog.get(region, STORAGE_KEY)
    except MissingPrice:
        return None
    instances = 2 if multi_az else 1
    usd = instances * FLOOR_ACU * acu.amount * catalog.hours_per_month + storage_gb * storage.amount
    floor = round(usd * usd_to_tzs)
    zero = None
    if zero_traffic_tzs is not None and zero_traffic_database_tzs is not None:
        zero = zero_traffic_tzs - zero_traffic_database_tzs + floor
    return AuroraFloor(
        instances=instances,
        storage_gb=storage_gb,
        floor_tzs=floor,
        database_tzs=database_tzs,
        best_with_floor_tzs=best_total_tzs - database_tzs + floor,
        zero_traffic_with_floor_tzs=zero,
        limit_tzs=limit_tzs,
        sources=(f"{ACU_KEY}: {acu.cite()}", f"{STORAGE_KEY}: {storage.cite()}"),
    )
