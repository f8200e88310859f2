"""python -m budget fit: the JSON fields users depend on, exit codes, and --write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from budget.cli import fit as fit_command
from budget.cli import main
from budget.fit.render import render_markdown, render_stack
from budget.fit.report import FitReport, FitResult, parse_fit
from budget.fit.stacks import FitJob
from components.bounded_input import one_line
from tests.budget.budget_helpers import ROOT, saved_fit

FIELDS = {
    "stack",
    "limit_tzs",
    "fits",
    "plan",
    "best",
    "alternatives",
    "min_limit_tzs",
    "max_users_within_limit",
    "deciding_assumption",
}


def _stack_file(tmp_path: Path, phase: str = "phase1", **budget: object) -> Path:
    text = (ROOT / f"Pulumi.{phase}.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    for key, value in budget.items():
        # edit the line in place so the file keeps its comments (as the owner's file would)
        old = document["config"]["stars:budget"][key]
        text = text.replace(f"    {key}: {old}", f"    {key}: {value}", 1)
    path = tmp_path / f"Pulumi.{phase}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def searched_phase1(fit_phase1: tuple[int, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The search answers with this run's own search of phase 1 as committed (``fit_phase1``), so a test
    of what the command does with an answer (formats, ``--write``) does not search again."""
    [report] = parse_fit(json.loads(fit_phase1[1]))
    committed = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")

    def answer(jobs: list[FitJob]) -> list[FitResult]:
        assert [j.stack for j in jobs] == ["phase1"]
        assert jobs[0].stack_file.read_text(encoding="utf-8") == committed
        return [report]

    monkeypatch.setattr(fit_command, "fit_stacks", answer)


def _fit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["fit", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_phase_that_does_not_fit_says_how_far(fit_phase1: tuple[int, str]) -> None:
    code, out = fit_phase1
    doc = json.loads(out)
    assert code == 1 and set(doc) >= FIELDS and doc["fits"] is False
    assert doc["plan"]["total_tzs"] > doc["best"]["total_tzs"] > doc["limit_tzs"]
    best = doc["best"]
    assert {"total_tzs", "tzs_per_1000_users", "changes", "config", "capacity"} <= set(best)
    assert set(best["capacity"]) == {"connections", "deliveries_per_s", "api_rps"}
    # the proposal carries the phase's demand by the capacity model
    demand = doc["demand"]
    users = demand["concurrent_users"]
    assert best["capacity"]["connections"] >= users * demand["connections_per_user"]
    assert best["capacity"]["api_rps"] >= users * demand["api_requests_per_user_per_second"]
    assert all({"key", "from", "to"} == set(c) for c in best["changes"])
    assert doc["min_limit_tzs"] == best["total_tzs"]
    assert doc["deciding_assumption"] is not None and doc["verified"] is True


def test_write_puts_a_fitting_plan_into_the_stack_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _stack_file(tmp_path, limit_tzs=3_000_000, warn_tzs=2_500_000)
    before = path.read_text(encoding="utf-8")
    code, out, err = _fit(
        capsys, "--stack", "phase1", "--stack-file", str(path), "--write", "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["fits"] and "wrote" in err
    after = path.read_text(encoding="utf-8")
    assert "# budget fit " in after and after != before
    # comments and every key the fit did not change survive; a changed key's own comment (which described
    # the old value) now says what fit set and what it was, and a single-zone plan's cross-zone traffic
    # says it is not billed (error 5 of the fit's review: the file contradicted its own values)
    changed = {c["key"] for c in doc["best"]["changes"]}
    single_zone = doc["best"]["config"]["stars:network"].get("placement") == "single_zone"
    restated = {"cross_az_gb"} if single_zone else set()
    for line in before.splitlines():
        if line.strip().startswith("#") or "  # " in line:
            key = line.split(":")[0].strip()
            if not any(c.endswith(f".{key}") for c in changed) and key not in restated:
                assert line in after, line
    written = yaml.safe_load(after)["config"]
    lines = after.splitlines()
    scalar_changes = [
        c
        for c in doc["best"]["changes"]
        if c["key"].split(".")[0] in written and not isinstance(c["to"], dict | list)
    ]  # a block the plan no longer has (stars:api and stars:realtime made one stars:app group) is gone
    assert scalar_changes
    for change in scalar_changes:
        block, leaf = change["key"].split(".", 1) if "." in change["key"] else (change["key"], "")
        value = written[block]
        for part in leaf.split(".") if leaf else []:
            value = value[part]
        assert value == change["to"], change
        old = "null" if change["from"] is None else change["from"]
        key = change["key"].rsplit(".", 1)[-1]
        assert any(
            line.strip().startswith(f"{key}:")
            and line.endswith(f"(was {old})")
            and "# set by budget fit" in line
            for line in lines
        ), (change, [line for line in lines if line.strip().startswith(f"{key}:")])
    assert single_zone == any(
        line.strip().startswith("cross_az_gb:")
        and "not billed, stars:network.placement = single_zone" in line
        for line in lines
    )
    # and the written file passes the check with no override, at the fit's own figure
    code = main(
        ["check", "--stack", "phase1", "--stack-file", str(path), "--format", "json", "--no-what-ifs"]
    )
    checked = json.loads(capsys.readouterr().out)
    assert code == 0 and checked["override"] is None
    assert checked["total_tzs"] == doc["best"]["total_tzs"]
    # and fit reads what it wrote (the independent re-check's N1: a file on public egress states no NAT
    # volume, and fit refused it for its NAT candidates): the same best, the file's usage as derived
    assert written["stars:usage"]["nat_processed_gb"] == 0
    code, out, err = _fit(capsys, "--stack", "phase1", "--stack-file", str(path), "--format", "json")
    again = json.loads(out)
    assert code == 0 and again["best"]["total_tzs"] == doc["best"]["total_tzs"], err
    assert again["plan"]["usage_drift"] == [] and again["plan"]["total_tzs"] == doc["best"]["total_tzs"]
    assert any(r.startswith("NAT egress: the stack file states no") for r in again["search"]["rejected"])


@pytest.mark.usefixtures("searched_phase1")
def test_write_leaves_a_file_alone_when_nothing_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _stack_file(tmp_path)
    before = path.read_text(encoding="utf-8")
    code, _, err = _fit(capsys, "--stack", "phase1", "--stack-file", str(path), "--write")
    assert code == 1 and "left as it is" in err
    assert path.read_text(encoding="utf-8") == before


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Pulumi.phase1.yaml"
    text = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")
    start = text.index("  stars:demand:")
    end = text.index("  stars:usage:")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    code, _, err = _fit(capsys, "--stack", "phase1", "--stack-file", str(path))
    assert code == 2 and "no stars:demand block" in err
    code, _, err = _fit(capsys, "--stack", "phase1", "--stack-file", str(tmp_path / "missing.yaml"))
    assert code == 2 and "not found" in err
    # --all fits every stack file of the project: a --stack-file was silently ignored
    code, out, err = _fit(capsys, "--all", "--stack-file", str(path))
    assert code == 2 and not out and "--all takes no --stack-file" in err


@pytest.mark.parametrize("headroom", ["0.95", "-0.1", "nan"])
def test_a_headroom_outside_0_to_0_9_is_one_line_and_exit_2(
    headroom: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _fit(capsys, "--stack", "phase1", "--headroom", headroom)
    assert code == 2 and not out and err.count("\n") == 1 and "is outside 0-0.9" in err


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("availability: single_az", "availability: triple_az", "stars:demand.availability = 'triple_az'"),
        (
            "  stars:cdn:\n",
            "  stars:cdn:\n    turbo_discount: 0.5\n",
            "stars:cdn.turbo_discount: unknown key",
        ),
    ],
)
def test_a_bad_stack_file_is_one_line_and_exit_2(
    old: str, new: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack file's errors are told on two lines by the config parser; fit prints them on one (the
    independent review found "invalid stack configuration:" and its detail on two)."""
    path = tmp_path / "Pulumi.phase1.yaml"
    text = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, out, err = _fit(capsys, "--stack", "phase1", "--stack-file", str(path))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in out + err
    assert err.startswith("budget fit: phase1: invalid stack configuration: ") and said in err
    assert out.startswith("== fit phase1: ERROR ==\n")  # the table's own block names it too


def test_several_errors_are_one_line_with_a_separator() -> None:
    told = "invalid stack configuration:\n  stars:a = 1: bad\n  stars:b: unknown key\n"
    assert one_line(told) == "invalid stack configuration: stars:a = 1: bad; stars:b: unknown key"
    assert one_line("just one") == "just one" and one_line("a\nb") == "a; b"


def test_a_malformed_option_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own errors (a value that is not a number) printed its six-line usage block first."""
    with pytest.raises(SystemExit) as done:
        main(["fit", "--stack", "phase1", "--headroom", "abc"])
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert err == ("python -m budget fit: error: argument --headroom: invalid float value: 'abc'\n")


def test_a_stated_usage_its_demand_contradicts_is_named_on_the_plans_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The independent fit review's F3: phase 1 stating 100 GB of CloudFront egress where its demand gives
    2,737.2 priced the plan's row TZS 530,747 low with no word. fit names the figure on the row (the search
    prices the demand either way); the committed stack files state what their demand gives."""
    text = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")
    [line] = [ln for ln in text.splitlines() if ln.strip().startswith("cloudfront_egress_gb:")]
    path = tmp_path / "Pulumi.phase1.yaml"
    path.write_text(text.replace(line, "    cloudfront_egress_gb: 100"), encoding="utf-8")
    code, out, _ = _fit(capsys, "--stack", "phase1", "--stack-file", str(path), "--format", "json")
    [report] = parse_fit(json.loads(out))
    assert code == 1 and isinstance(report, FitReport)
    [drift] = report.plan.usage_drift
    assert (drift.key, drift.stated, round(drift.derived, 1)) == ("cloudfront_egress_gb", 100, 2737.2)
    assert "cloudfront_egress_gb 100 where the demand gives 2737.2" in render_stack(report)
    assert "the plan's row prices the file as written" in render_markdown([report])
    assert all(s["plan"]["usage_drift"] == [] for s in saved_fit()["stacks"])


def test_an_inconsistent_demand_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0.02 GB per user is less than the real-time frames alone (0.026 GB at 0.1 deliveries/s)."""
    path = tmp_path / "Pulumi.phase1.yaml"
    text = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")
    path.write_text(
        text.replace("transfer_gb_per_user_per_month: 0.3", "transfer_gb_per_user_per_month: 0.02")
    )
    code, _, err = _fit(capsys, "--stack", "phase1", "--stack-file", str(path))
    assert (
        code == 2 and err.count("\n") == 1 and "inconsistent stars:demand" in err and "Traceback" not in err
    )


@pytest.mark.usefixtures("searched_phase1")
def test_markdown_names_the_deciding_assumption(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _fit(capsys, "--stack", "phase1", "--format", "markdown")
    assert code == 1 and out.startswith("## Budget fit") and "| phase1 |" in out
    assert "deciding" in out.lower()


def test_a_far_exchange_rate_is_refused_before_any_search(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rate 50% from the catalog's would make any plan "fit" (or none): fit refuses it, as check does."""
    path = _stack_file(tmp_path, usd_to_tzs=100)
    assert "usd_to_tzs: 100\n" in path.read_text(encoding="utf-8")
    code, out, err = _fit(capsys, "--stack", "phase1", "--stack-file", str(path))
    assert code == 2 and "usd_to_tzs 100.00 is more than 50%" in out + err
    assert "Traceback" not in out + err
