"""STARS_PLAN_CACHE: tier plans shared between processes through a folder, keyed by the program itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from budget.catalog import load_catalog
from budget.fit import plan_cache
from budget.fit import pricer as pricer_module
from budget.fit.pricer import Pricer
from budget.model import PlannedResource
from components.planning import mocks
from tests.budget.budget_helpers import stack_cfg

PLAN = (
    PlannedResource(
        type="aws:ec2/vpc:Vpc",
        name="network-vpc",
        inputs={"cidrBlock": "10.10.0.0/16", "tags": {"tier": "network"}, "size": 2.0, "list": [1, "a"]},
        urn="urn:pulumi:phase1::stars::aws:ec2/vpc:Vpc::network-vpc",
        tier="network",
        id="vpc-1",
        property_dependencies={"cidrBlock": ["urn:x"]},
        region="af-south-1",
    ),
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(plan_cache.ENV, str(tmp_path))
    return tmp_path


def test_off_unless_a_folder_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(plan_cache.ENV, raising=False)
    assert plan_cache.folder() is None
    plan_cache.store("network", "k", PLAN)  # nothing to do, nothing raised
    assert plan_cache.load("network", "k") is None
    monkeypatch.setenv(plan_cache.ENV, "  ")
    assert plan_cache.folder() is None


def test_a_kept_plan_reads_back_equal(cache: Path) -> None:
    plan_cache.store("network", "k", PLAN)
    assert plan_cache.load("network", "k") == PLAN
    assert plan_cache.load("network", "other key") is None and plan_cache.load("edge", "k") is None
    [entry] = list(cache.glob("*/*.json"))
    assert entry.parent.name == plan_cache.program_digest()  # a changed program reads none of it


def test_another_program_reads_none_of_it(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan_cache.store("network", "k", PLAN)
    monkeypatch.setattr(plan_cache, "program_digest", lambda: "another-program")
    assert plan_cache.load("network", "k") is None


def test_the_digest_follows_the_program_source(tmp_path: Path) -> None:
    for name in ("components/a.py", "runtime/deploy/install.sh", "budget/plan.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("one")
    before = plan_cache.program_digest.__wrapped__(tmp_path)
    (tmp_path / "runtime/deploy/install.sh").write_text("two")
    assert plan_cache.program_digest.__wrapped__(tmp_path) != before


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        "\udcff",
        "[" * 100_000,  # nested past json's recursion limit
        '{"tier": "network", "key": "k"}',
        '{"tier": "network", "key": "k", "resources": 3}',
        '{"tier": "network", "key": "k", "resources": [{}]}',
        '{"tier": "network", "key": "k", "resources": ["vpc"]}',
        '{"tier": "network", "key": "k", "resources": [{"type": "t", "name": "n", "inputs": {}}]}',
        '{"tier": "network", "key": "k", "resources": [{"type": "t", "name": "n", "inputs": {}, "urn": "u",'
        ' "cost": 1}]}',
    ],
)
def test_an_unreadable_entry_is_a_miss(cache: Path, text: str) -> None:
    plan_cache.store("network", "k", PLAN)
    [entry] = list(cache.glob("*/*.json"))
    entry.write_bytes(text.encode("utf-8", "surrogateescape"))  # "\udcff": a byte that is not UTF-8
    assert plan_cache.load("network", "k") is None


def test_an_error_of_the_program_is_not_taken_for_a_miss(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only what a file in the folder can be makes a miss; a bug (here an AttributeError while building the
    plan, which a broad ``except`` once turned into a silent re-plan) propagates."""
    plan_cache.store("network", "k", PLAN)

    def broken(**fields: object) -> PlannedResource:
        raise AttributeError("a bug in the program")

    monkeypatch.setattr(plan_cache, "PlannedResource", broken)
    with pytest.raises(AttributeError, match="a bug in the program"):
        plan_cache.load("network", "k")


def test_an_entry_for_another_key_is_a_miss(cache: Path) -> None:
    """The file name is a digest of tier and key; the entry names both, and both must match."""
    plan_cache.store("network", "k", PLAN)
    [entry] = list(cache.glob("*/*.json"))
    entry.write_text(entry.read_text().replace('"key": "k"', '"key": "j"'))
    assert plan_cache.load("network", "k") is None


def test_a_second_process_plans_nothing_and_prices_to_the_cent(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[tuple[str, ...]] = []

    def counting(cfg: object, tiers: tuple[str, ...]) -> list[mocks.RecordedResource]:
        planned.append(tiers)
        return mocks.plan_tiers(cfg, tiers)  # type: ignore[arg-type]  # the real planner, counted

    monkeypatch.setattr(pricer_module, "plan_tiers", counting)
    monkeypatch.setattr(pricer_module, "_TIER_PLANS", {})
    catalog, cfg = load_catalog(), stack_cfg("phase1")
    first = Pricer(catalog).price(cfg)
    assert planned
    planned.clear()
    monkeypatch.setattr(pricer_module, "_TIER_PLANS", {})  # as a new process starts: nothing in memory
    again = Pricer(catalog)
    second = again.price(cfg)
    assert planned == [] and again.tier_plans > 0
    assert second.total() == first.total() and second.estimate.priced == first.estimate.priced


def test_an_oversized_entry_is_not_read(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan_cache.store("network", "k", PLAN)
    [entry] = list(cache.glob("*/*.json"))
    monkeypatch.setattr(plan_cache, "MAX_ENTRY_BYTES", entry.stat().st_size - 1)
    assert plan_cache.load("network", "k") is None
    monkeypatch.setattr(plan_cache, "MAX_ENTRY_BYTES", entry.stat().st_size)
    assert plan_cache.load("network", "k") == PLAN
