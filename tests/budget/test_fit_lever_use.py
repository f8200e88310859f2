"""The levers a configuration takes, read off its own keys: ``best.levers`` in fit's JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from budget.fit.lever_use import LEVERS, TITLES, levers_taken
from budget.fit.render import levers_taken_line, render_stack
from budget.fit.report import FitReport, parse_fit
from components.config import StackConfig, load_stack_file
from tests.budget.budget_helpers import saved_fit

ROOT = Path(__file__).resolve().parents[2]


def _phase(n: int) -> StackConfig:
    return load_stack_file(ROOT / f"Pulumi.phase{n}.yaml")


def _with(cfg: StackConfig, block: str, **update: object) -> StackConfig:
    changed = getattr(cfg, block).model_copy(update=update)
    return StackConfig.model_validate(cfg.model_copy(update={block: changed}).model_dump())


def test_the_phase1_plan_takes_only_the_levers_its_file_names() -> None:
    # t3.medium/t3.large servers, db.t3.medium, a NAT, an internal ALB behind a VPC origin, CloudFront pay
    # as you go with Intelligent-Tiering: burstable credits, the VPC origin, WebSockets through CloudFront
    # and Intelligent-Tiering only
    assert levers_taken(_phase(1)) == [
        "burstable_credits",
        "cloudfront_vpc_origin",
        "websockets_via_cloudfront",
        "s3_intelligent_tiering",
    ]


@pytest.mark.parametrize(
    ("block", "update", "key"),
    [
        ("cache", {"engine": "valkey"}, "valkey"),
        ("monitoring", {"log_class": "infrequent_access"}, "logs_infrequent_access"),
        ("network", {"private_egress": "public"}, "public_egress"),
        ("cdn", {"savings_bundle": True}, "cloudfront_savings_bundle"),
        ("cdn", {"plan": "pro", "dynamic_distribution": True}, "cloudfront_flat_rate"),
        ("database", {"commitment": "reserved_1yr"}, "reserved_1yr"),
    ],
)
def test_each_key_turns_its_lever_on(block: str, update: dict[str, object], key: str) -> None:
    base = _phase(1)
    assert key not in levers_taken(base)
    assert key in levers_taken(_with(base, block, **update))


def test_spot_and_graviton_are_read_from_every_server_group() -> None:
    base = _phase(1)
    assert base.api is not None
    spot = base.api.spot.model_copy(update={"enabled": True, "spot_percentage": 100})
    taken = levers_taken(_with(base, "api", spot=spot, instance_type="t4g.medium"))
    assert {"spot", "graviton"} <= set(taken)
    assert not {"spot", "graviton"} & set(levers_taken(base))


def test_every_lever_has_a_title_and_a_unique_key() -> None:
    keys = [lever.key for lever in LEVERS]
    assert len(keys) == len(set(keys)) == len(TITLES)
    assert levers_taken_line([]) == "none"
    assert (
        levers_taken_line(["valkey", "spot"])
        == "Valkey instead of Redis OSS; spot instances above an on-demand base"
    )


#: Phase 1's entry of the saved ``fit --all`` document: these read fit's answer without a search.
SAVED_PHASE1 = saved_fit("phase1")


def test_fit_reports_the_levers_its_cheapest_plan_takes() -> None:
    [report] = parse_fit(SAVED_PHASE1)
    assert isinstance(report, FitReport)  # phase 1 is searched, not a failure
    assert report.best is not None
    assert report.best.levers == levers_taken(report.best.config)
    # the cheapest phase-1 plan rests on these (the README's fit table): none of them may go missing
    assert {"combined_app_group", "cloudfront_vpc_origin", "cloudfront_flat_rate"} <= set(report.best.levers)
    assert f"levers taken: {levers_taken_line(report.best.levers)}" in render_stack(report)


def test_the_domain_lever_shows_its_sensitivity_only_when_it_leads_the_verdict() -> None:
    # phase 1 at the stated 0.3 GB per user does not fit even with a domain: the stack's own
    # sensitivity is the one that leads, and the lever carries none (test_fit_domain has the other case)
    [report] = parse_fit(SAVED_PHASE1)
    assert isinstance(report, FitReport)  # phase 1 is searched, not a failure
    lever = report.domain_lever
    assert lever is not None and lever.fits is False and lever.sensitivity is None
    assert "With a domain, by transfer" not in render_stack(report)
