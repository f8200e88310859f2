"""The ``python -m budget`` package: every command listed and loadable, each run in this process through
the entry function (exit code and output), and a command's start-up paying only for its own modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from budget import project
from budget.cli import main
from budget.cli.parser import COMMANDS, build_parser, command_named

ROOT = Path(__file__).resolve().parents[2]
REVIEW_DATA = ROOT / "tests" / "budget_review" / "data"


def test_the_help_lists_every_command_of_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "{check,diff,comment,report,prices,fit,capacity}" in out
    modules = sorted(p.stem for p in (ROOT / "budget" / "cli").glob("*.py"))
    assert sorted(c.name for c in COMMANDS) == [
        m for m in modules if m not in ("__init__", "options", "diff_options", "parser")
    ]


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_each_command_prints_its_own_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m budget {command} [-h]")


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert command_named(["--verbose", "bogus"]) is None
    with pytest.raises(SystemExit) as done:
        main(["bogus"])
    assert done.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_a_command_imports_only_its_own_modules() -> None:
    """check (the hook and the guard) must not pay for fit's search, Jinja2, the GitHub client or boto3."""
    probe = (
        "import sys; from budget.cli.parser import build_parser, command_named;"
        "build_parser(command_named(['check'])).parse_args(['check', '--all']);"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('budget', 'jinja2', 'boto3')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(done.stdout.split())
    assert "budget.cli.check" in loaded and "budget.check" in loaded
    others = {c.module for c in COMMANDS if c.name != "check"}
    assert loaded.isdisjoint({*others, "budget.fit.run", "budget.html_report", "budget.comment"})
    assert not any(m.startswith(("jinja2", "boto3")) for m in loaded)


def test_a_parser_without_the_command_loaded_does_not_know_its_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser(None).parse_args(["check", "--all"])
    assert done.value.code == 2
    assert "unrecognized arguments: --all" in capsys.readouterr().err


def test_report_checks_every_stack_in_this_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No subprocess of the project's own commands: the report's figures are check's own objects."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"report started a process: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    out = tmp_path / "cost.html"
    assert main(["report", "-o", str(out), "--no-fit"]) == 0
    html = out.read_text(encoding="utf-8")
    assert html.count('<section class="phase"') == 3
    assert 'data-stack="phase1"' in html and 'class="fit"' not in html
    assert capsys.readouterr().err == f"budget report: wrote {out} (3 stacks)\n"


def test_report_names_a_stack_the_check_cannot_price(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  stars:phase: phase9\n", encoding="utf-8")
    monkeypatch.setattr(project, "ROOT", tmp_path)
    out = tmp_path / "cost.html"
    assert main(["report", "-o", str(out), "--no-fit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("budget report: budget check failed (exit 2): ")
    assert "invalid stack configuration" in err and "stars:phase = 'phase9'" in err and not out.exists()


def test_report_without_stacks_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(project, "ROOT", tmp_path)
    assert main(["report", "-o", str(tmp_path / "x.html"), "--no-fit"]) == 2
    assert capsys.readouterr().err == (
        f"budget report: budget check failed (exit 2): no Pulumi.<stack>.yaml files in {tmp_path}\n"
    )


def test_all_without_stacks_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """check and fit take the project's stacks from the library (budget.project), each saying so its way."""
    monkeypatch.setattr(project, "ROOT", tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["check", "--all"])
    assert done.value.code == 2
    assert capsys.readouterr().err.endswith(f"error: no Pulumi.<stack>.yaml files in {tmp_path}\n")
    assert main(["fit", "--all"]) == 2
    assert capsys.readouterr().err == f"budget fit: no Pulumi.<stack>.yaml files in {tmp_path}\n"


def test_report_reads_a_saved_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "fit.json"
    bad.write_text(json.dumps({"stacks": [{"stack": "phase1"}]}), encoding="utf-8")
    args = ["report", "-o", str(tmp_path / "x.html"), "--input", str(REVIEW_DATA / "head_all.json")]
    assert main([*args, "--fit-input", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("budget report: fit report for phase1: ")
    assert main([*args, "--fit-input", str(tmp_path / "missing.json")]) == 2
    assert "budget report: cannot read" in capsys.readouterr().err


def test_fit_names_a_stack_it_cannot_read_without_searching(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "Pulumi.phase1.yaml"
    broken.write_text("config: [", encoding="utf-8")
    assert main(["fit", "--stack", "phase1", "--stack-file", str(broken), "--format", "json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["status"] == "error" and doc["exit_code"] == 2
    assert captured.err == f"budget fit: phase1: {doc['error']}\n"


def test_capacity_table_and_its_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Measured (slowest counted window of the kept runs: ")
    assert "One server at headroom 0.3 carries:" in out and "t3.medium" in out
    assert main(["capacity", "--headroom", "0.95"]) == 2
    assert capsys.readouterr().err == (
        "budget capacity: --headroom 0.95 is outside 0-0.9 (the share of every capacity kept spare)\n"
    )
    assert main(["capacity", "--measured", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("budget capacity: ")


def test_check_contradicting_options_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as done:
        main(["check", "--all", "--preview-json", str(tmp_path / "p.json")])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err == (  # one line, not argparse's usage block before it
        "python -m budget: error: --all takes no --stack-file, --config-json or --preview-json"
        " (they describe one stack)\n"
    )
