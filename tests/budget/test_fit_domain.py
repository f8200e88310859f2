"""The domain lever: without a domain of its own a stack can only serve TLS through CloudFront, which
decides phase 1 at the plan's low usage (0.1 GB per user). Fit prices the lever with a stand-in name,
``--domain`` searches with the owner's name and ``--write`` writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budget.cli import main
from budget.fit.render import render_markdown, verdict
from budget.fit.report import FitReport, parse_fit
from components.config import load_stack_file
from tests.budget.budget_helpers import ROOT, assert_serves_only_tls

DOMAIN = "api.stars.example.org"


def _low_usage_phase1(tmp_path: Path) -> Path:
    """Phase 1 at the plan's lower usage: 10 TB a month at 100,000 users is 0.1 GB per user."""
    text = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")
    assert "    transfer_gb_per_user_per_month: 0.3" in text
    path = tmp_path / "Pulumi.phase1.yaml"
    path.write_text(
        text.replace("transfer_gb_per_user_per_month: 0.3", "transfer_gb_per_user_per_month: 0.1")
    )
    return path


def _fit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["fit", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_phase1_at_0_1_gb_fits_with_a_domain_and_the_written_file_passes_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _low_usage_phase1(tmp_path)
    code, out, _ = _fit(capsys, "--stack", "phase1", "--stack-file", str(path), "--format", "json")
    doc = json.loads(out)
    # without a domain only CloudFront's certificate serves TLS: every API request is billed there
    assert code == 1 and not doc["fits"]
    [lever] = [lever for lever in doc["levers"] if lever["key"] == "domain"]
    assert lever["status"] == "needs_input" and lever["fits"] is True
    assert lever["total_tzs"] <= doc["limit_tzs"] < doc["best"]["total_tzs"]
    assert lever["saves_tzs"] == doc["best"]["total_tzs"] - lever["total_tzs"]
    assert "--domain NAME" in lever["why"] and "route53.hosted_zone" in lever["sources"][0]
    # the verdict an expert compares with (the company's domain on the load balancer) leads every format
    assert doc["fits_with_domain"] is True
    [report] = parse_fit(doc)
    assert isinstance(report, FitReport)  # the search ran (it does not fit, it did not fail)
    assert report.to_json() == doc
    assert verdict(report) == (
        f"FITS WITH A DOMAIN OF YOUR OWN (TZS {lever['total_tzs']:,} with its hosted zone; name it with"
        " --domain NAME); as written, DOES NOT FIT"
    )
    assert f"| with a domain of your own (TZS {lever['total_tzs']:,}) |" in render_markdown([report])
    # that leading verdict carries its own sensitivity, hosted zone counted (the review's F5)
    firm = lever["sensitivity"]
    assert [v["value"] for v in firm["headroom"]] == [0.1, 0.2, 0.3]
    assert [v["value"] for v in firm["transfer_gb_per_user_per_month"]] == [0.05, 0.1, 0.2, 0.3, 0.5]
    at_stated = [v for v in firm["headroom"] if v["value"] == 0.3]
    at_stated += [v for v in firm["transfer_gb_per_user_per_month"] if v["value"] == 0.1]
    assert [v["total_tzs"] for v in at_stated] == [lever["total_tzs"]] * 2
    for v in firm["headroom"] + firm["transfer_gb_per_user_per_month"]:
        assert v["fits"] is (v["total_tzs"] <= doc["limit_tzs"])
    by_transfer = [v["total_tzs"] for v in firm["transfer_gb_per_user_per_month"]]
    assert by_transfer == sorted(by_transfer) and by_transfer[0] < by_transfer[-1]
    assert "- with a domain, by transfer" in render_markdown([report])

    code, out, err = _fit(
        capsys,
        "--stack",
        "phase1",
        "--stack-file",
        str(path),
        "--domain",
        DOMAIN,
        "--write",
        "--format",
        "json",
    )
    with_domain = json.loads(out)
    assert code == 0 and with_domain["fits"] and "wrote" in err
    changes = {c["key"]: c["to"] for c in with_domain["best"]["changes"]}
    assert changes["stars:loadBalancer.domain"] == DOMAIN
    # the hosted zone lives outside the stack: the lever's total is the plan's plus one zone a month
    zone_tzs = lever["total_tzs"] - with_domain["best"]["total_tzs"]
    assert zone_tzs == round(0.50 * with_domain["usd_to_tzs"])
    [used] = [lever for lever in with_domain["levers"] if lever["key"] == "domain"]
    assert used["status"] == "used" and DOMAIN in used["why"]
    assert f"domain: {DOMAIN}" in path.read_text(encoding="utf-8")
    # the written plan serves clients only HTTPS/WSS, TLS ending on the load balancer (issue 23, error 4)
    assert_serves_only_tls(load_stack_file(path))
    code = main(
        ["check", "--stack", "phase1", "--stack-file", str(path), "--format", "json", "--no-what-ifs"]
    )
    checked = json.loads(capsys.readouterr().out)
    assert code == 0 and checked["total_tzs"] == with_domain["best"]["total_tzs"] <= 400_000


def test_a_bad_domain_or_one_for_every_stack_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _low_usage_phase1(tmp_path)
    before = path.read_text(encoding="utf-8")
    code, _, err = _fit(
        capsys, "--stack", "phase1", "--stack-file", str(path), "--domain", "Not A Name", "--write"
    )
    assert code == 2 and "--domain 'Not A Name': must be a fully qualified lower-case DNS name" in err
    assert "Traceback" not in err and path.read_text(encoding="utf-8") == before
    code, out, err = _fit(capsys, "--all", "--domain", DOMAIN)
    assert (
        code == 2
        and not out
        and err.strip() == "budget fit: --all takes no --domain (each stack names its own)"
    )
