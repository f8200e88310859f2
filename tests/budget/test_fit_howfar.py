"""How far a phase is from its limit: the users the limit buys are searched again at fewer users with what
grows with users scaled down (error 6), the verdict is shown at 10, 20 and 30% headroom and the deciding
assumption names its headroom (error 7). Each with the arithmetic done by hand."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget.capacity import load_model
from budget.catalog import load_catalog
from budget.fit import howfar
from budget.fit.pricer import Pricer
from components.config import StackConfig
from tests.budget.budget_helpers import stack_cfg


def test_fewer_users_scale_what_grows_with_them() -> None:
    cfg = stack_cfg("phase3")  # 100,000 users, 500 GB of data, 1,000 GB in S3, 120 GB of logs
    assert cfg.demand is not None
    small = howfar.scaled_to(cfg, 10_000)  # a tenth of the users
    assert small.demand is not None and small.demand.concurrent_users == 10_000
    assert small.demand.database_storage_gb == pytest.approx(50)  # 500 GB / 10
    assert small.usage.s3_storage_gb == pytest.approx(100)  # 1,000 GB / 10
    assert small.usage.logs_ingested_gb == pytest.approx(12)  # 120 GB / 10
    assert small.usage.cross_az_gb == pytest.approx(200)  # 2,000 GB / 10
    assert small.usage.nat_processed_gb == cfg.usage.nat_processed_gb  # updates follow servers, not users
    # per-user figures stay as stated; RDS never goes below its 20 GB minimum
    assert small.demand.transfer_gb_per_user_per_month == cfg.demand.transfer_gb_per_user_per_month
    tiny = howfar.scaled_to(cfg, 1_000)
    assert tiny.demand is not None and tiny.demand.database_storage_gb == 20  # 500 / 100 = 5 -> 20


def _cost(cfg: StackConfig, *_: Any, **__: Any) -> float:
    """A stand-in cheapest plan: TZS 1,000 fixed, TZS 10 per GB of data, TZS 1 per user."""
    assert cfg.demand is not None
    return 1_000 + 10 * cfg.demand.database_storage_gb + cfg.demand.concurrent_users


def test_the_users_the_limit_buys_carry_their_own_fixed_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (issue 23, error 6): at fewer users the search kept the full phase's 500 GB of data.

    By hand, limit TZS 10,000, 100,000 users with 500 GB (0.005 GB per user), steps of 1,000 users:
    kept at 500 GB, 1,000 + 5,000 + n <= 10,000 gives n <= 4,000; scaled, 1,000 + 10 x 0.005 n + n
    = 1,000 + 1.05 n <= 10,000 gives n <= 8,571, so 8,000 users on the 1,000-user grid.
    """
    catalog = load_catalog()
    cfg = stack_cfg("phase3")
    cfg = cfg.model_copy(
        update={"budget": cfg.budget.model_copy(update={"limit_tzs": 10_000, "warn_tzs": 1})}
    )
    monkeypatch.setattr(howfar, "cheapest_tzs", _cost)
    assert howfar.max_users(cfg, catalog, load_model(catalog), Pricer(catalog), 100_000) == 8_000

    def kept(c: StackConfig, *a: Any) -> float:  # the old behaviour: the full phase's data kept
        assert c.demand is not None
        return _cost(
            c.model_copy(update={"demand": c.demand.model_copy(update={"database_storage_gb": 500})})
        )

    monkeypatch.setattr(howfar, "cheapest_tzs", kept)
    assert howfar.max_users(cfg, catalog, load_model(catalog), Pricer(catalog), 100_000) == 4_000


def test_the_verdict_at_each_headroom_and_the_deciding_headroom(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23, error 7: the cheapest plan needs servers for its load / (1 - headroom). With a stand-in
    plan of TZS 1,000 / (1 - headroom) against a limit of TZS 1,200: 10% is 1,111 (fits), 20% is 1,250 and
    30% is 1,429 (over). The headroom that fits is 10%, two thirds below the stated 30%."""
    catalog = load_catalog()
    cfg = stack_cfg("phase1")
    cfg = cfg.model_copy(update={"budget": cfg.budget.model_copy(update={"limit_tzs": 1_200, "warn_tzs": 1})})
    model = load_model(catalog)

    def cost(c: StackConfig, cat: Any, m: Any, *_: Any) -> float:
        return 1_000 / (1 - m.settings.headroom)

    monkeypatch.setattr(howfar, "cheapest_tzs", cost)
    verdicts = howfar.verdicts_by_headroom(cfg, catalog, model, Pricer(catalog), {})
    assert [(v.value, v.total_tzs, v.fits) for v in verdicts] == [
        (0.1, 1_111, True),
        (0.2, 1_250, False),
        (0.3, 1_429, False),
    ]
    assumption = howfar.headroom_assumption(0.3, verdicts)
    assert (assumption.stated, assumption.fits_at) == (0.3, 0.1)
    deciding = howfar.deciding([assumption])
    assert deciding is not None and deciding.change == pytest.approx(0.6667, abs=1e-4)
    assert "at 30% headroom" in deciding.text() and "fits at 0.1" in deciding.text()


@settings(max_examples=60, deadline=None)
@given(
    fixed=st.integers(0, 20_000),
    per_user=st.floats(0.01, 3.0),
    steps=st.lists(st.tuples(st.integers(1, 100_000), st.integers(0, 5_000)), max_size=4),
)
def test_the_users_the_limit_buys_equal_the_brute_force_answer(
    fixed: int, per_user: float, steps: list[tuple[int, int]]
) -> None:
    """Whatever the (non-decreasing) cost curve, the line-and-neighbour probes find exactly what probing
    every grid point would, and probe far fewer points than the grid has."""
    catalog = load_catalog()
    cfg = stack_cfg("phase3")
    limit = 60_000
    cfg = cfg.model_copy(update={"budget": cfg.budget.model_copy(update={"limit_tzs": limit, "warn_tzs": 1})})
    probed: list[int] = []

    def curve(c: StackConfig, *_: Any, **__: Any) -> float:
        assert c.demand is not None
        n = c.demand.concurrent_users
        probed.append(n)
        return fixed + per_user * n + sum(jump for at, jump in steps if n >= at)

    grid = [max(1, i * 1_000) for i in range(1, 101)]
    fitting = [n for n in grid if fixed + per_user * n + sum(j for a, j in steps if n >= a) <= limit]
    expected = 0 if not fitting or fitting[0] != grid[0] else max(fitting)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(howfar, "cheapest_tzs", curve)
        found = howfar.max_users(cfg, catalog, load_model(catalog), Pricer(catalog), 100_000)
    assert found == expected
    assert len(probed) <= 20
