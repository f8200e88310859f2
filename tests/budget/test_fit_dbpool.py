"""The database takes every connection the servers' pools may open (review finding F1): fit sizes the pool
per process from the plan, and takes a larger class only when no pool fits. Arithmetic by hand."""

from __future__ import annotations

import pytest

from budget.capacity import load_model
from budget.catalog import load_catalog
from budget.fit import dbpool
from budget.fit import space as space_module
from budget.fit.dbpool import GroupSize, check, db_connections, in_refresh, max_connections, with_pool
from budget.fit.pricer import Pricer
from budget.fit.search import search
from components.server_tier import REFRESH_MAX_HEALTHY_PERCENT
from tests.budget.budget_helpers import stack_cfg

MODEL = load_model(load_catalog())


def test_max_connections_follow_rds_default_formula_on_the_class_memory_less_the_reserve() -> None:
    """LEAST(DBInstanceClassMemory / 9,531,392, 5000), DBInstanceClassMemory = memory - 512 MiB:
    db.t4g.micro (1 GiB): 536,870,912 / 9,531,392 = 56.3 -> 56 (the whole GiB would give 112);
    db.t4g.small (2 GiB): 1,610,612,736 / 9,531,392 = 169.0 -> 168; db.t4g.medium (4 GiB):
    3,758,096,384 / 9,531,392 = 394.3 -> 394; db.t4g.xlarge (16 GiB): 16,642,998,272 / 9,531,392 -> 1,746."""
    assert [max_connections(MODEL, c) for c in ("db.t4g.micro", "db.t4g.small", "db.t4g.medium")] == [
        56,
        168,
        394,
    ]
    assert max_connections(MODEL, "db.t4g.xlarge") == 1746
    assert 2**30 // 9_531_392 == 112


def test_phase_3s_servers_take_the_small_because_a_deploy_doubles_them() -> None:
    """Review finding F8. Fit's phase 3 servers: 3 x t4g.small, 6 workers each (min 3 = max 3) = 18 processes;
    an instance refresh launches the 3 replacements before terminating (max healthy 200%): 36 processes.
    Needed per process: 5,000 statements/s / 18 processes x 127.6 us = 0.035 in flight, / 0.7 = 0.051: 1,
    so the floor of 2. db.t4g.micro takes 56 - 3 - 10 = 43: 43 // 36 = 1 < 2, rejected (36 x 2 = 72
    connections; counted at max size only, 43 // 18 = 2 fitted and a deploy could ask for 72).
    db.t4g.small takes (168 - 13) // 36 = 4 per process: 144 connections during a refresh."""
    assert MODEL.measured.db_us_per_statement.value == pytest.approx(127.5917)  # the kept API run
    assert REFRESH_MAX_HEALTHY_PERCENT == 200 and in_refresh(3) == 6
    groups = {"app": GroupSize(3, 3, 6)}
    micro = check(MODEL, "db.t4g.micro", groups, 5_000)
    assert (micro.max_connections, micro.processes_at_max, micro.processes_in_refresh) == (56, 18, 36)
    assert (micro.needed_per_process, micro.pool_per_process, micro.opened_in_refresh) == (2, None, 72)
    assert not micro.fits
    assert micro.statement.startswith(
        "db.t4g.micro cannot take the pools: 36 processes during an instance refresh (18 at max size,"
        " replacements first) x 2 = 72"
    )
    small = check(MODEL, "db.t4g.small", groups, 5_000)
    assert (small.pool_per_process, small.opened_in_refresh, small.opened_at_max, small.fits) == (
        4,
        144,
        72,
        True,
    )


def test_fewer_processes_get_a_larger_pool_up_to_the_runtimes_own_ceiling() -> None:
    """Phase 2: 1 x t4g.small with 6 workers, 12 during a refresh: 43 // 12 = 3. Phase 1: 1 server, 2
    workers, 4 during a refresh: 43 // 4 = 10 (the runtime's default ceiling, 10 + 10, is not reached)."""
    assert check(MODEL, "db.t4g.micro", {"app": GroupSize(1, 1, 6)}, 2_500).pool_per_process == 3
    assert check(MODEL, "db.t4g.micro", {"app": GroupSize(1, 1, 2)}, 500).pool_per_process == 10
    assert check(MODEL, "db.t4g.xlarge", {"app": GroupSize(1, 1, 2)}, 500).pool_per_process == 20


def test_a_class_no_pool_fits_is_rejected_with_the_arithmetic() -> None:
    """api 4 x 2 workers + realtime 3 x 6 = 26 processes, 52 during a refresh, x 2 = 104 > 43 on
    db.t4g.micro; db.t4g.small takes them: (168 - 13) // 52 = 2 per process."""
    groups = {"api": GroupSize(2, 4, 2), "realtime": GroupSize(3, 3, 6)}
    micro = check(MODEL, "db.t4g.micro", groups, 5_000)
    assert not micro.fits and micro.pool_per_process is None and micro.opened_in_refresh == 104
    assert micro.statement.startswith("db.t4g.micro cannot take the pools: 52 processes during an instance")
    assert check(MODEL, "db.t4g.small", groups, 5_000).pool_per_process == 2


def test_a_busy_process_needs_more_than_the_floor() -> None:
    """100,000 statements/s over the fewest processes, one server of 2 workers at its minimum: 50,000/s x
    127.5917 us = 6.380 in flight, / 0.7 = 9.11: 10 per process. The other group's larger minimum does not
    lower it: one group may issue every statement. At max size 2 x 2 + 4 x 4 = 20 processes, 40 during a
    refresh: db.t4g.small gives (168 - 13) // 40 = 3 and db.t4g.medium (394 - 13) // 40 = 9, under 10, so
    both are rejected; db.t4g.large (844) gives (844 - 13) // 40 = 20."""
    groups = {"api": GroupSize(1, 2, 2), "realtime": GroupSize(4, 4, 4)}
    assert dbpool.pool_needed(MODEL, 100_000, groups) == 10
    small = check(MODEL, "db.t4g.small", groups, 100_000)
    assert not small.fits and small.opened_in_refresh == 400
    assert not check(MODEL, "db.t4g.medium", groups, 100_000).fits
    assert check(MODEL, "db.t4g.large", groups, 100_000).pool_per_process == 20


def test_the_pool_is_written_into_every_group_and_the_check_reads_the_config() -> None:
    cfg = stack_cfg("phase3")  # as written by hand: api 8 x 2 + realtime 4 x 2 = 24 processes, db.t3.medium
    verdict = db_connections(cfg, MODEL)
    assert (verdict.processes_at_max, verdict.processes_in_refresh, verdict.max_connections) == (24, 48, 394)
    assert verdict.pool_per_process == min(20, (394 - 13) // 48) == 7
    pooled = with_pool(cfg, MODEL)
    assert {t.db_pool_size for t in pooled.server_tiers.values()} == {7}
    micro = cfg.model_copy(
        update={"database": cfg.database.model_copy(update={"instance_class": "db.t4g.micro"})}
    )
    assert with_pool(micro, MODEL) == micro  # 48 x 2 = 96 > 43: nothing set, the check says why


def test_the_search_takes_a_larger_class_when_the_cheapest_cannot_take_the_pools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small space for phase 3 (t4g.small on demand, public egress, one CDN plan) and an admin margin of
    40: db.t4g.micro keeps 56 - 3 - 40 = 13 connections, under the 6 x 6 x 2 = 72 its 36 processes need
    during a refresh, so the search takes db.t4g.small: (168 - 43) // 36 = 3 per process, written into the
    group."""
    small = {
        "EC2_INSTANCE_TYPES": ("t4g.small",),
        "PURCHASES": ("on_demand",),
        "RDS_INSTANCE_CLASSES": ("db.t4g.micro", "db.t4g.small"),
        "CACHE_NODE_TYPES": ("cache.t3.micro",),
        "LOAD_BALANCERS": ("network",),
        "EGRESS": ("public",),
        "PRICE_CLASSES": ("PriceClass_200",),
        "CDN_PLANS": ("pay_as_you_go",),
    }
    for name, value in small.items():
        monkeypatch.setattr(space_module, name, value)
    monkeypatch.setattr(dbpool, "ADMIN_MARGIN", 40)
    catalog = load_catalog()
    result = search(stack_cfg("phase3"), catalog, MODEL, Pricer(catalog))
    assert result.best is not None
    cfg = result.best.priced.cfg
    assert cfg.app is not None and (cfg.app.max_size, cfg.app.workers) == (3, 6)
    assert cfg.database.instance_class == "db.t4g.small" and cfg.app.db_pool_size == 3
    assert any(r.startswith("db.t4g.micro cannot take the pools: 36 processes") for r in result.rejected)
