"""Every plan ``budget fit`` writes serves clients only HTTPS/WSS (issue: TLS on every public endpoint).

Without a domain the only TLS the components give is CloudFront's default certificate in front of an
internal load balancer that CloudFront reaches through a VPC origin (no public plain-HTTP endpoint); with
one, the load balancer's own ACM certificate. Either way the written stack file, planned under mocks,
passes the baseline's TLS rules: here without a domain; the plan written with ``--domain`` is checked the
same way in test_fit_domain.py (one search serves both).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budget.cli import main
from components.config import load_stack_file
from components.planning.mocks import plan_resources
from tests.budget.budget_helpers import ROOT, assert_serves_only_tls


def _stack_file(tmp_path: Path, domain: str | None) -> Path:
    text = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")
    # a limit any plan meets, so fit writes its cheapest plan
    text = text.replace("    limit_tzs: 400000", "    limit_tzs: 900000000", 1)
    text = text.replace("    warn_tzs: 300000", "    warn_tzs: 800000000", 1)
    if domain is not None:
        text = text.replace("    domain: null", f"    domain: {domain}", 1)
    path = tmp_path / "Pulumi.phase1.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_written_plan_without_a_domain_serves_only_tls_through_cloudfront(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _stack_file(tmp_path, None)
    code = main(["fit", "--stack", "phase1", "--stack-file", str(path), "--write", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0 and "wrote" in err, err
    report = json.loads(out)
    cfg = load_stack_file(path)
    assert cfg.load_balancer.domain is None
    # CloudFront carries every client connection, to an internal load balancer through a VPC origin
    assert cfg.load_balancer.websockets_via_cdn and cfg.load_balancer.origin == "vpc_origin"
    assert cfg.load_balancer.type == "application" or cfg.app is not None
    # the API and /ws on a pay-as-you-go distribution: the only one, or beside the assets' plans
    assert cfg.cdn.plan == "pay_as_you_go" or cfg.cdn.dynamic_distribution
    assert any("behind a CloudFront VPC origin" in r for r in report["search"]["rejected"])
    # no internet-facing load balancer, so no public plain-HTTP listener; the policy's TLS rules hold
    assert_serves_only_tls(cfg)
    resources = plan_resources(cfg)
    lbs = [r for r in resources if r.type == "aws:lb/loadBalancer:LoadBalancer"]
    assert lbs and all(lb.inputs["internal"] is True for lb in lbs)
    vpc_origins = [r for r in resources if r.type == "aws:cloudfront/vpcOrigin:VpcOrigin"]
    assert [v.inputs["vpcOriginEndpointConfig"]["arn"] for v in vpc_origins] == [lbs[0].state["arn"]]
