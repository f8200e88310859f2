"""Bad stack config fails with a message naming the key, the value and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, StackConfig, load_stack_file, parse_stack_config, read_stack_file
from tests.infra.conftest import ROOT


def raw() -> dict[str, Any]:
    return copy.deepcopy(read_stack_file(ROOT / "Pulumi.phase1.yaml"))


def error_for(values: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("phase1", values)
    return str(exc.value)


def test_real_stacks_are_valid() -> None:
    for phase in ("phase1", "phase2", "phase3"):
        assert isinstance(load_stack_file(ROOT / f"Pulumi.{phase}.yaml"), StackConfig)


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


def test_readme_documents_every_key() -> None:
    """The config reference in components/README.md names every key of every block."""
    from pydantic import BaseModel

    text = (ROOT / "components" / "README.md").read_text(encoding="utf-8")

    def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
        found = []
        for name, info in model.model_fields.items():
            sub = info.annotation
            if (
                isinstance(sub, type)
                and issubclass(sub, BaseModel)
                and prefix == ""
                and model is not StackConfig
            ):
                found += keys(sub, f"{name}.")
            else:
                found.append(prefix + name)
        return found

    for name, info in StackConfig.model_fields.items():
        block = info.annotation
        if isinstance(block, type) and issubclass(block, BaseModel):
            for key in keys(block):
                if key.startswith("override."):
                    continue
                assert f"`{key}`" in text or f"`{key}`," in text or key.split(".")[-1] in text, (
                    f"{name}.{key}"
                )
