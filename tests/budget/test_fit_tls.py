"""Every plan ``budget fit`` writes serves clients only HTTPS/WSS (issue: TLS on every public endpoint).

Without a domain the only TLS the components give is CloudFront's default certificate in front of an ALB
that admits CloudFront alone; with one, the load balancer's own ACM certificate. Either way the written
stack file, planned under mocks, passes the baseline's TLS rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from budget_helpers import ROOT

from budget.cli import main
from components.config import load_stack_file
from components.planning.baseline import no_plain_http, tls_in_transit, violations
from components.planning.mocks import plan_resources

DOMAIN = "api.example.org"


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


@pytest.mark.parametrize("domain", [None, DOMAIN], ids=["cloudfront-certificate", "acm-domain"])
def test_every_written_fit_plan_serves_only_tls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], domain: str | None
) -> None:
    path = _stack_file(tmp_path, domain)
    code = main(["fit", "--stack", "phase1", "--stack-file", str(path), "--write", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0 and "wrote" in err, err
    report = json.loads(out)
    cfg = load_stack_file(path)
    assert cfg.load_balancer.domain == domain
    if domain is None:  # CloudFront carries every client connection
        assert cfg.load_balancer.type == "application" and cfg.load_balancer.websockets_via_cdn
        # the API and /ws on a pay-as-you-go distribution: the only one, or beside the assets' plans
        assert cfg.cdn.plan == "pay_as_you_go" or cfg.cdn.dynamic_distribution
        assert any("only an ALB behind CloudFront" in r for r in report["search"]["rejected"])
    resources = plan_resources(cfg)
    assert no_plain_http(resources) == [] and tls_in_transit(resources) == []
    assert violations(resources) == []
    listeners = [r for r in resources if r.type == "aws:lb/listener:Listener"]
    if domain is not None:  # TLS on the load balancer itself, plaintext only redirecting
        assert {li.inputs["protocol"] for li in listeners} <= {"HTTPS", "TLS", "HTTP"}
        for li in listeners:
            if li.inputs["protocol"] == "HTTP":
                assert [a["type"] for a in li.inputs["defaultActions"]] == ["redirect"]
