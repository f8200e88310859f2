"""The pack as the Pulumi CLI runs it: ``python policy/`` (or a publish bundle) serving the analyzer over
gRPC, asked what the engine asks: its policies, its config, then a stack to validate."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import grpc
import yaml
from google.protobuf import empty_pb2, json_format
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from policy.budget_policy import parse_settings, report_for
from policy.bundle import bundle
from policy.configure import pack_config
from policy.pack import PACK_NAME, policies
from policy.resources import from_policy_resources
from tests.infra.conftest import ROOT, stack_config
from tests.policy.engine import EngineResource, analyze_stack_request, policy_resources
from tests.policy.stacks import known, preview

STARTUP_SECONDS = 60


@contextmanager
def serving(directory: Path, workdir: Path) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Run the pack directory with Python as the language host does, without the repository on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    log = workdir / "pack.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(directory)],
            cwd=directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
        port = proc.stdout.readline().strip() if ready else ""
        assert port.isdigit(), f"the pack did not start: {log.read_text()}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _configure(stub: analyzer_pb2_grpc.AnalyzerStub, stack: str) -> None:
    """What the engine sends: every policy's effective level (here its default) and its config."""
    request = proto.ConfigureAnalyzerRequest()
    config = pack_config(stack_config(stack))
    for policy in stub.GetAnalyzerInfo(empty_pb2.Empty()).policies:
        request.policyConfig[policy.name].enforcementLevel = policy.enforcementLevel
        if policy.name in config:
            json_format.ParseDict(config[policy.name], request.policyConfig[policy.name].properties)
    stub.Configure(request)


def _diagnostics(
    stub: analyzer_pb2_grpc.AnalyzerStub, resources: Sequence[EngineResource]
) -> list[proto.AnalyzeDiagnostic]:
    return list(stub.AnalyzeStack(analyze_stack_request(resources)).diagnostics)


def _in_process_total(stack: str) -> str:
    """The total the pack computes in this process for the stack (equal to ``budget check``'s: that is
    tests/policy/test_pack_budget.py), as the served pack must write it."""
    settings = parse_settings(pack_config(stack_config(stack))["stars-budget"])
    doc = report_for(from_policy_resources(policy_resources(known(stack))), settings)
    return f"TZS {doc.total_tzs:,.0f} a month"


def test_the_pack_serves_its_policies_and_validates_a_stack(tmp_path: Path) -> None:
    with serving(ROOT / "policy", tmp_path) as stub:
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        assert info.name == PACK_NAME
        assert [p.name for p in info.policies] == [p.name for p in policies()]
        by_name = {p.name: p for p in info.policies}
        assert by_name["stars-budget"].enforcementLevel == proto.MANDATORY
        assert by_name["stars-budget-warning"].enforcementLevel == proto.ADVISORY
        assert list(by_name["stars-budget"].configSchema.required) == ["limit_tzs", "warn_tzs", "usage"]
        assert all(p.policy_type == proto.PolicyType.POLICY_TYPE_STACK for p in info.policies)

        _configure(stub, "phase1")
        [over] = _diagnostics(stub, known("phase1"))
        assert (over.policyName, over.enforcementLevel) == ("stars-budget", proto.MANDATORY)
        assert _in_process_total("phase1") in over.message and "over the limit of TZS 400,000" in over.message

        during_preview = _diagnostics(stub, preview("phase1"))
        mandatory = [d for d in during_preview if d.enforcementLevel == proto.MANDATORY]
        assert [d.policyName for d in mandatory] == ["stars-budget"]
        undecided = [d for d in during_preview if d.enforcementLevel == proto.ADVISORY]
        assert undecided and all("during preview" in d.message for d in undecided)


def test_a_publish_bundle_is_self_contained(tmp_path: Path) -> None:
    out = bundle(tmp_path / "bundle")
    project = yaml.safe_load((out / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    pins = (out / "requirements.txt").read_text().splitlines()[1:]
    project_pins = (ROOT / "requirements.txt").read_text().splitlines()
    assert set(pins) <= set(project_pins)
    assert {p.split("==")[0] for p in pins} >= {"pulumi", "pulumi-policy", "pydantic", "PyYAML"}
    assert (out / "budget" / "catalog" / "prices.yaml").is_file()
    assert list((out / "bench" / "measured").glob("*.json"))  # the capacity model's runs price CPU credits
    assert not list(out.rglob("__pycache__"))
    with serving(out, tmp_path) as stub:
        assert [p.name for p in stub.GetAnalyzerInfo(empty_pb2.Empty()).policies] == [
            p.name for p in policies()
        ]
        _configure(stub, "phase3")
        [over] = _diagnostics(stub, known("phase3"))
        assert _in_process_total("phase3") in over.message
