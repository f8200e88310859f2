"""Hostile input to the budget gate: it is refused in one line with exit 2, fast, never hung or crashed.

Each case runs ``python -m budget check`` as a subprocess, as CI and the guard do; the subprocess timeout is
only a guard against a hang (a hang fails the test), the assertions are on the outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from budget.catalog import CatalogError, load_catalog
from budget.preview import PreviewError, load_preview, parse_preview_document, reveal
from budget.report.model import CostReport, ReportError, StackReport, stack_from_json
from budget.rules.base import SECRET
from components.bounded_input import MAX_DEPTH, InputError, load_json, load_yaml
from components.config import ConfigError, parse_stack_config, read_stack_file
from tests.budget.budget_helpers import ROOT

#: Far above what any refusal takes; only a hang reaches it.
HANG_GUARD_SECONDS = 60
LAUGHS = "\n".join(
    f"  {name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "budget", "check", "--no-what-ifs", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def bomb_stack_file(tmp_path: Path) -> Path:
    """Phase 1's stack file with ``stars:budget.limit_tzs`` a billion-laughs alias tree (9^9 leaves)."""
    text = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")
    start, _, rest = text.partition("limit_tzs:")
    _, _, rest = rest.partition("\n")
    text = f"laughs:\n{LAUGHS}\n{start}limit_tzs: *i\n{rest}"
    path = tmp_path / "Pulumi.phase1.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_alias_bomb_in_a_stack_file_is_refused_in_one_line(tmp_path: Path) -> None:
    # Before: yaml.safe_load built the shared tree, and the validation error's repr of the input ran
    # past 120 s and 2.6 GB.
    path = bomb_stack_file(tmp_path)
    done = check("--stack", "phase1", "--stack-file", str(path))
    _one_line_error(done, "alias *a", "line")


def test_aliases_of_plain_values_still_read_and_collections_are_refused_everywhere(tmp_path: Path) -> None:
    assert load_yaml("a: &x 3\nb: *x\n", 1000) == {"a": 3, "b": 3}
    for text in ("a: &x [1]\nb: *x\n", "a: &x {k: 1}\nb: [*x]\n", "a: &x [*x]\n", f"l:\n{LAUGHS}\n"):
        with pytest.raises(InputError, match="alias"):
            load_yaml(text, 100_000)
    catalog = tmp_path / "prices.yaml"
    catalog.write_text(f"laughs:\n{LAUGHS}\nregions: {{}}\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="alias"):
        load_catalog(catalog)
    assert load_catalog().regions  # the project's catalog uses aliases of plain strings only


def test_deep_and_large_yaml_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="deeper than"):
        load_yaml("a: " + "[" * 100_000 + "]" * 100_000, 1_000_000)
    big = tmp_path / "Pulumi.big.yaml"
    big.write_text("config:\n" + "  # padding\n" * 200_000, encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than the 1 MiB limit"):
        read_stack_file(big)
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text("config: [\n  a: b: c\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        read_stack_file(broken)
    assert "\n" not in str(exc.value) and "not valid YAML (line" in str(exc.value)


def test_a_validation_error_never_renders_a_huge_input() -> None:
    # The tree the bomb builds in memory: every level shares its nine children (9^40 leaves if walked).
    tree: object = "lol"
    for _ in range(40):
        tree = [tree] * 9
    values = yaml.safe_load((ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8"))["config"]
    values["stars:budget"] = {**values["stars:budget"], "limit_tzs": tree, "usd_to_tzs_source": "x" * 10**6}
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("phase1", values)
    line = next(li for li in str(exc.value).splitlines() if "limit_tzs" in li)
    assert len(line) < 300, line


def deep_preview(tmp_path: Path, depth: int = 100_000) -> Path:
    path = tmp_path / "deep.json"
    path.write_text('{"steps": [' + "[" * depth + "]" * depth + "]}", encoding="utf-8")
    return path


def test_a_100k_deep_preview_exits_2_in_one_line_not_1(tmp_path: Path) -> None:
    # Before: RecursionError traceback from json.loads, exit 1 ("over budget").
    done = check("--stack", "phase1", "--preview-json", str(deep_preview(tmp_path)))
    _one_line_error(done, "deep.json", "nested deeper than")


def test_depth_is_bounded_for_every_json_reader(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="deeper than"):
        load_preview(deep_preview(tmp_path, MAX_DEPTH + 1))
    load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, 1000)
    # A document built in memory (the policy pack's path) is held to the same depth.
    nested: object = {}
    for _ in range(5000):
        nested = {"a": nested}
    with pytest.raises(PreviewError, match="deeper than"):
        parse_preview_document({"steps": [{"op": "create", "urn": "u", "newState": nested}]})
    with pytest.raises(ReportError, match="deeper than"):
        CostReport.loads("[" * 5000 + "]" * 5000)
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(InputError, match="not a JSON value"):
            load_json(f'{{"a": {constant}}}', 1000)
    with pytest.raises(InputError, match="larger than"):
        load_json("[" + "1," * 1000 + "1]", 1000)


def test_a_plaintext_secret_nests_no_deeper_than_the_document_allows() -> None:
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
    value: object = 1
    for _ in range(8):  # each plaintext holds the next secret object, 11 levels down: 88 levels in all
        value = {**secret, "plaintext": json.dumps(json.loads("[" * 10 + json.dumps(value) + "]" * 10))}
    assert SECRET in json.dumps(reveal(value))


def test_a_stack_value_given_as_json_text_is_bounded() -> None:
    values = read_stack_file(ROOT / "Pulumi.phase1.yaml")
    values["stars:api"] = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("phase1", values)
    assert str(exc.value) == (
        "invalid stack configuration:\n  stars:api: not valid JSON (nested deeper than 64 levels)"
    )


def _stack_file(tmp_path: Path, **budget: object) -> Path:
    document = yaml.safe_load((ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8"))
    document["config"]["stars:budget"].update(budget)
    path = tmp_path / "Pulumi.phase1.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("budget", "says"),
    [
        # Before: "OK: within budget", TZS 0, exit 0.
        ({"usd_to_tzs": 1e-300}, "usd_to_tzs = 1e-300: Input should be greater than or equal to 100"),
        # Before: OverflowError tracebacks.
        ({"usd_to_tzs": float("inf")}, "usd_to_tzs = inf: Input should be a finite number"),
        ({"usd_to_tzs": 1e308}, "usd_to_tzs = 1e+308: Input should be less than or equal to 100000"),
        ({"usd_to_tzs": float("nan")}, "usd_to_tzs = nan: Input should be a finite number"),
        # Before: accepted.
        ({"limit_tzs": 1e38}, "limit_tzs = 1e+38"),
        ({"limit_tzs": 20_000_000_000, "warn_tzs": 1}, "limit_tzs = 20000000000: Input should be less than"),
        ({"override": {"reason": "x" * 100_000, "approved_by": "cfo"}}, "at most 500 characters"),
    ],
)
def test_money_figures_out_of_range_are_invalid_config(tmp_path: Path, capsys, budget, says) -> None:
    from budget.cli import main

    code = main(["check", "--stack", "phase1", "--stack-file", str(_stack_file(tmp_path, **budget))])
    out, err = capsys.readouterr()
    assert code == 2 and says in err, err
    assert "Traceback" not in out + err and len(err) < 400


def test_usage_figures_are_finite_and_bounded() -> None:
    values = read_stack_file(ROOT / "Pulumi.phase1.yaml")
    for bad, says in ((float("inf"), "finite"), (1e300, r"at most 1e\+12")):
        values["stars:usage"] = {**values["stars:usage"], "internet_egress_gb": bad}
        with pytest.raises(ConfigError, match=says):
            parse_stack_config("phase1", values)


def _check_json(tmp_path: Path, capsys, **budget: object) -> tuple[int, dict]:
    from budget.cli import main

    path = _stack_file(tmp_path, limit_tzs=1_000_000_000, warn_tzs=900_000_000, **budget)
    code = main(
        ["check", "--stack", "phase1", "--stack-file", str(path), "--format", "json", "--no-what-ifs"]
    )
    out, err = capsys.readouterr()
    return code, {**json.loads(out), "stderr": err}


def _priced(doc: dict[str, Any]) -> StackReport:
    """The stack of a check's JSON document (these documents price it: an error entry fails the test)."""
    report = stack_from_json(doc)
    assert isinstance(report, StackReport), report
    return report


def test_a_rate_far_from_the_catalogs_needs_the_override_going_over_needs(tmp_path: Path, capsys) -> None:
    from policy.budget_policy import budget_violations

    catalog_rate = load_catalog().global_prices["fx.usd_to_tzs"]
    assert catalog_rate.amount == 2500 and catalog_rate.source_date == "2026-01-16"
    for near in (1250, 3750):  # 50% either way is still the catalog's rate
        code, doc = _check_json(tmp_path, capsys, usd_to_tzs=near)
        assert code == 0 and doc["status"] == "ok" and not doc["warnings"], doc["warnings"]
        assert doc["rate_warning"] is None
    for far in (1249, 3751, 100):
        code, doc = _check_json(tmp_path, capsys, usd_to_tzs=far)
        assert code == 1 and doc["status"] == "ok" and doc["exit_code"] == 1 and not doc["overridden"]
        assert (
            "usd_to_tzs" in doc["stderr"]
            and "more than 50% from the catalog's rate 2,500.00" in doc["stderr"]
        )
        assert any("needs an override" in w for w in doc["warnings"])
        assert "needs an override" in doc["rate_warning"] and doc["rate_warning"] in doc["warnings"]
        assert _priced(doc).rate_warning == doc["rate_warning"]
        [refused] = budget_violations(_priced(doc))  # the policy pack refuses it too
        assert refused.kind == "far_rate" and "more than 50%" in refused.message and refused.urn is None
    override = {"reason": "the board fixed this rate for the year", "approved_by": "cfo@stars.example"}
    code, doc = _check_json(tmp_path, capsys, usd_to_tzs=100, override=override)
    assert code == 0 and doc["overridden"] and doc["override"]["approved_by"] == "cfo@stars.example"
    assert not budget_violations(_priced(doc))


def test_the_rate_warning_is_read_from_its_field_not_found_among_the_warnings(tmp_path: Path, capsys) -> None:
    """The rate warning was flattened into ``warnings`` and found again by its prefix, with ``next()`` and
    no default: a report at exit 1 whose warnings did not start with it raised StopIteration in check's
    and the pack's messages. Now it is a field of the report; only a report written before the field
    existed is read by the prefix."""
    from budget.check import problems
    from budget.diff import StackDiff
    from policy.budget_policy import budget_violations

    _code, doc = _check_json(tmp_path, capsys, usd_to_tzs=100)
    rate = doc["rate_warning"]
    moved = {**doc, "warnings": ["the preview names no region for 1 priced resource(s)"]}
    report = _priced(moved)
    assert report.rate_warning == rate
    assert problems(CostReport(stacks=(report,), single=True)) == [f"budget check: phase1: {rate}"]
    [refused] = budget_violations(report)
    assert refused.kind == "far_rate" and refused.message.startswith(f"stack phase1: {rate};")
    assert StackDiff("phase1", None, report, ()).unconfirmed_rate == rate
    legacy = {k: v for k, v in doc.items() if k != "rate_warning"}
    assert _priced(legacy).rate_warning == rate
    with pytest.raises(ReportError, match=r"^phase1: rate_warning: Input should be a valid string$"):
        stack_from_json({**doc, "rate_warning": 1})


def test_a_report_is_read_by_its_types_and_refused_in_one_line() -> None:
    """The report model reads figures as the JSON wrote them and refuses what no report holds: a bool or a
    figure no float holds (NaN compares as never over the limit; 1e400 crashed a format later), each in one
    line naming the stack and the key; a null takes the field's default; an error stack exits 2."""
    golden = json.loads((ROOT / "tests" / "budget" / "golden" / "check-all.json").read_text(encoding="utf-8"))
    stack = golden["stacks"][0]
    for key, value, message in [
        ("total_usd", float("nan"), "must be a finite number, got 'nan'"),
        ("limit_tzs", 10**400, "must be a finite number"),
        ("limit_tzs", True, "must be a number, got 'True'"),
        ("lines", 2.0, "Input should be a valid integer"),
        ("phase", 1, "Input should be a valid string"),
    ]:
        with pytest.raises(ReportError, match=f"^phase1: {key}: {message}") as refused:
            CostReport.from_json({**stack, key: value})
        assert "\n" not in str(refused.value)
    with pytest.raises(ReportError, match=r"^a b: limit_tzs: must be a number"):
        CostReport.from_json({**stack, "stack": "a\nb", "limit_tzs": "x"})
    read = CostReport.from_json({**stack, "phase": None, "lines": None}).stacks[0]
    assert isinstance(read, StackReport) and (read.phase, read.lines) == ("", 0)
    failed = CostReport.from_json({"stack": "phase1", "status": "error", "exit_code": 0, "error": "a\nb"})
    assert failed.exit_code == 2 and failed.to_json()["exit_code"] == 2
    with pytest.raises(ReportError, match=r"^phase1: the check could not price this stack: a b$"):
        failed.verdicts()


def test_the_policy_packs_config_is_held_to_the_same_bounds_and_quoted_short() -> None:
    from policy.budget_policy import PackConfigError, parse_settings
    from policy.configure import budget_block

    config = budget_block(parse_stack_config("phase1", read_stack_file(ROOT / "Pulumi.phase1.yaml")))
    assert parse_settings(config).budget.usd_to_tzs == 2500
    for bad, says in (
        ({"usd_to_tzs": 1e-300}, "usd_to_tzs = 1e-300: Input should be greater than or equal to 100"),
        ({"limit_tzs": 1e38}, "limit_tzs = 1e"),
    ):
        with pytest.raises(PackConfigError, match=says):
            parse_settings({**config, **bad})
    with pytest.raises(PackConfigError) as exc:
        parse_settings({**config, "usd_to_tzs_source": "x" * 10**6, "limit_tzs": "y" * 10**6})
    assert "limit_tzs = 'yyy" in str(exc.value) and len(str(exc.value)) < 600, len(str(exc.value))
