"""Bad stack config fails with a message naming the key, the value and what is allowed."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from components.config import (
    CONFIG_KEYS,
    ConfigError,
    StackConfig,
    load_stack_file,
    parse_stack_config,
    read_stack_file,
)
from tests.infra.conftest import ROOT


def raw() -> dict[str, Any]:
    return copy.deepcopy(read_stack_file(ROOT / "Pulumi.phase1.yaml"))


def error_for(values: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("phase1", values)
    return str(exc.value)


def test_real_stacks_are_valid() -> None:
    limits = {"phase1": 400_000, "phase2": 700_000, "phase3": 1_000_000}  # the plan's upper limits
    for phase, limit in limits.items():
        cfg = load_stack_file(ROOT / f"Pulumi.{phase}.yaml")
        assert isinstance(cfg, StackConfig)
        assert (cfg.stack, cfg.phase, cfg.region, cfg.budget.limit_tzs) == (phase, phase, "af-south-1", limit)


def test_unknown_instance_type() -> None:
    values = raw()
    values["stars:api"]["instance_type"] = "t3.mega"
    msg = error_for(values)
    assert "stars:api.instance_type = 't3.mega'" in msg and "t3.medium" in msg


def test_min_greater_than_max() -> None:
    values = raw()
    values["stars:realtime"].update(min_size=5, desired_capacity=5, max_size=2)
    msg = error_for(values)
    assert "stars:realtime" in msg and "min_size (5) must not exceed max_size (2)" in msg


def test_missing_key() -> None:
    values = raw()
    del values["stars:database"]["instance_class"]
    assert "stars:database.instance_class: missing (required)" in error_for(values)
    values = raw()
    del values["stars:cache"]
    assert "stars:cache: missing (required)" in error_for(values)


def test_negative_size() -> None:
    values = raw()
    values["stars:database"]["allocated_storage_gb"] = -100
    msg = error_for(values)
    assert "stars:database.allocated_storage_gb = -100" in msg and "20" in msg


def test_unknown_keys() -> None:
    values = raw()
    values["stars:cdn"]["price_clas"] = "PriceClass_All"
    assert "stars:cdn.price_clas: unknown key" in error_for(values)
    values = raw()
    values["stars:databse"] = {}
    assert "stars:databse: unknown key" in error_for(values)


def test_bad_enums_and_ranges() -> None:
    values = raw()
    values["stars:network"]["private_egress"] = "vpn"
    assert "stars:network.private_egress = 'vpn'" in error_for(values)
    values = raw()
    values["stars:api"]["cpu_target_percent"] = 95
    assert "stars:api.cpu_target_percent = 95" in error_for(values)
    values = raw()
    values["aws:region"] = "mars-north-1"
    assert "aws:region = 'mars-north-1'" in error_for(values)
    values = raw()
    values["stars:cache"].update(automatic_failover=True, num_cache_clusters=1)
    assert "automatic_failover needs num_cache_clusters of at least 2" in error_for(values)


def test_json_values_and_broken_files(tmp_path: Path) -> None:
    values = raw()
    values["stars:api"] = '{"instance_type": "t3.medium"'
    assert "stars:api: not valid JSON" in error_for(values)
    bad = tmp_path / "Pulumi.broken.yaml"
    bad.write_text("config: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_stack_file(bad)


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key a block accepts, nested blocks dotted (``spot.enabled``, ``override.reason``)."""
    found: set[str] = set()
    for name, info in model.model_fields.items():
        nested = [t for t in (info.annotation, *get_args(info.annotation)) if isinstance(t, type)]
        block = next((t for t in nested if issubclass(t, BaseModel)), None)
        found |= _model_keys(block, f"{prefix}{name}.") if block else {prefix + name}
    return found


def _documented_keys(text: str) -> dict[str, set[str]]:
    """The config reference: each `stars:<block>` heading and the keys its table (or paragraph) names."""
    sections: dict[str, set[str]] = {}
    current: list[str] = []
    for line in text[text.index("## Config reference") :].splitlines()[1:]:
        if line.startswith("## "):
            break
        heading = re.findall(r"`stars:(\w+)`", line)
        if heading and line.startswith("`stars:"):
            current = heading
            for block in current:
                sections[block] = set()
            line = line.split(":", 2)[-1] if "(" in line else ""
        if not current:
            continue
        cell = line.split("|")[1] if line.startswith("|") else line
        for key in re.findall(r"`([a-z_][a-z0-9_.]*)`", cell):
            for block in current:
                sections[block].add(key)
    return sections


def test_readme_documents_every_key() -> None:
    """The config reference in components/README.md names every key of every block, and no other."""
    documented = _documented_keys((ROOT / "components" / "README.md").read_text(encoding="utf-8"))
    blocks = {
        key: StackConfig.model_fields[field].annotation
        for key, field in CONFIG_KEYS.items()
        if key != "phase"
    }
    checked = set()
    for key, annotation in blocks.items():
        # a block, or an optional block (``ServerTierConfig | None``: api, realtime, app)
        models = [t for t in (annotation, *get_args(annotation)) if isinstance(t, type)]
        model = next((t for t in models if issubclass(t, BaseModel)), None)
        if model is None:
            continue
        assert key in documented, f"stars:{key} has no section in the config reference"
        assert documented[key] == _model_keys(model), f"stars:{key}"
        checked.add(key)
    assert {"api", "realtime", "app", "network", "database", "cache", "budget"} <= checked


def test_type_the_region_does_not_offer() -> None:
    """A fact about the region, not a price: the message names the key, the type, the region and why."""
    values = raw()  # af-south-1
    values["stars:cache"]["node_type"] = "cache.t4g.micro"
    msg = error_for(values)
    assert "stars:cache.node_type = 'cache.t4g.micro': not offered in af-south-1" in msg
    assert "no cache.t4g nodes in af-south-1" in msg and "pricing-levers.md" in msg
    values["stars:realtime"]["instance_type"] = "c7g.large"
    msg = error_for(values)
    assert "stars:realtime.instance_type = 'c7g.large': not offered in af-south-1" in msg
    assert "stars:cache.node_type" in msg  # both problems at once
    values["aws:region"] = "eu-west-1"  # both are offered there
    assert parse_stack_config("phase1", values).cache.node_type == "cache.t4g.micro"


def test_small_and_graviton_types_are_accepted() -> None:
    values = raw()
    values["stars:api"]["instance_type"] = "m7g.large"
    values["stars:realtime"]["instance_type"] = "t4g.small"
    values["stars:database"]["instance_class"] = "db.t4g.micro"
    values["stars:cache"]["node_type"] = "cache.t3.micro"
    cfg = parse_stack_config("phase1", values)
    assert cfg.api is not None and cfg.realtime is not None  # phase 1 has both server tiers
    assert (cfg.api.architecture, cfg.realtime.architecture) == ("arm64", "arm64")
    assert cfg.database.instance_class == "db.t4g.micro"


def test_commitments() -> None:
    values = raw()
    values["stars:database"]["commitment"] = "reserved_3yr"
    msg = error_for(values)
    assert "stars:database.commitment = 'reserved_3yr'" in msg and "'none' or 'reserved_1yr'" in msg
    values = raw()
    values["stars:api"].update(commitment="reserved_1yr", min_size=0, desired_capacity=0)
    msg = error_for(values)
    assert "stars:api" in msg and "commitment reserved_1yr covers the instances that run on demand" in msg
    values = raw()
    values["stars:api"].update(commitment="reserved_1yr", spot={"enabled": True, "spot_percentage": 100})
    assert "on spot there are none" in error_for(values)
    values = raw()
    values["stars:api"].update(
        commitment="reserved_1yr", schedule={"enabled": True, "off_peak_min_size": 0, "off_peak_max_size": 1}
    )
    assert "off-peak minimum of 0" in error_for(values)
    values = raw()
    values["stars:api"]["commitment"] = "reserved_1yr"
    values["stars:cache"]["commitment"] = "reserved_1yr"
    cfg = parse_stack_config("phase1", values)
    assert cfg.api is not None and cfg.realtime is not None  # phase 1 has both server tiers
    assert (cfg.api.commitment, cfg.realtime.commitment, cfg.cache.commitment) == (
        "reserved_1yr",
        "none",
        "reserved_1yr",
    )
    assert cfg.api.always_on_demand == 2
