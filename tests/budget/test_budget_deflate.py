"""permessage-deflate in the demand: the delivered frames' bytes on the wire at the kept run's ratio."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import deflate
from budget.cli import main
from budget.deflate import DeflateRunError, kept_frames, payload_bytes, wire_ratio
from budget.demand import DemandError, demand_of, routed_figures, traffic
from budget.fit.howfar import with_demand
from budget.fit.render import traffic_line
from budget.fit.report import FitReport, parse_fit
from components.config import ConfigError, DemandConfig, load_stack_file, parse_stack_config, read_stack_file
from runtime.config import Settings
from tests.budget.budget_helpers import ROOT, stack_cfg

if TYPE_CHECKING:
    from tests.conftest import BudgetCli

KEPT = ROOT / "bench" / "measured" / "2026-12-05-send-floor" / "deflate.json"
SECONDS = 730 * 3600 / 1.72  # a month's seconds at the peak rate (peak_to_average 1.72)


def _kept_frame(name: str) -> dict[str, Any]:
    frames = json.loads(KEPT.read_text(encoding="utf-8"))["runs"][0]["frames"]
    return next(f for f in frames if f["frame"] == name)


def _run(folder: Path, *frames: tuple[str, int, int], name: str = "deflate.json") -> Path:
    """A kept run in ``folder`` with (frame, plain_bytes, deflated_bytes) rows."""
    rows = [{"frame": f, "plain_bytes": p, "deflated_bytes": d} for f, p, d in frames]
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": [{"benchmark": "deflate", "frames": rows}]}), encoding="utf-8")
    return path


def test_phase_one_websocket_bytes_by_hand_with_and_without_deflate() -> None:
    short = _kept_frame("short chat message")
    assert (short["plain_bytes"], short["deflated_bytes"]) == (159, 131)  # what the kept run measured
    ratio = 131 / 159  # 0.824: the 171-byte frame lies between the 159- and 199-byte chat messages
    assert _kept_frame("chat message")["deflated_bytes"] / 199 < ratio  # the longer one saves more
    frames = 10_000 * 0.1 * 171 * SECONDS / 1e9  # 261.27 GB of delivered frames, raw
    pings = 10_000 * SECONDS / 20 * 2 / 1e9  # 1.53 GB: a 2-byte ping every 20 s, never compressed
    cfg = stack_cfg("phase1")  # clients straight to the load balancer: the frames leave it
    t = traffic(demand_of(cfg))
    assert t.deflate.ratio == pytest.approx(ratio) and t.deflate.frame == "short chat message"
    assert t.deflate.source == "bench/measured/2026-12-05-send-floor/deflate.json"
    assert t.websocket_raw_gb == pytest.approx(frames + pings) == pytest.approx(262.8, abs=0.01)
    assert t.websocket_gb == pytest.approx(frames * ratio + pings) == pytest.approx(216.79, abs=0.01)
    # what the users consume is the plan's total; compression takes 46.0 GB off the wire, billed nowhere
    assert t.total_gb == 3_000 and t.wire_gb == pytest.approx(3_000 - frames * (1 - ratio))
    # the rest of the total is split on the raw frames, as without compression
    assert t.static_gb == pytest.approx(0.88 * (3_000 - frames - pings))
    assert t.api_gb == pytest.approx(0.12 * (3_000 - frames - pings))
    figures = routed_figures(cfg)
    assert figures["internet_egress_gb"] == pytest.approx(frames * ratio + pings + t.api_gb, abs=0.01)

    off = traffic(demand_of(with_demand(cfg, websocket_deflate=False)))
    assert off.deflate.ratio == 1 and off.websocket_gb == off.websocket_raw_gb == t.websocket_raw_gb
    assert (off.static_gb, off.api_gb, off.wire_gb) == (t.static_gb, t.api_gb, 3_000)
    # pongs and the clients' publishes are priced raw either way
    uploads = (10_000 * 0.01 * 171 * SECONDS + 10_000 * SECONDS / 20 * 6) / 1e9
    assert off.websocket_upload_gb == t.websocket_upload_gb == pytest.approx(uploads)


def test_the_phase_stacks_route_their_frames_through_cloudfront_compressed() -> None:
    cfg = load_stack_file(ROOT / "Pulumi.phase1.yaml")
    assert cfg.demand is not None and cfg.demand.websocket_deflate is True
    assert cfg.usage.cloudfront_websocket_egress_gb == 216.79  # 262.8 GB raw x 0.824, pings raw


def test_the_ratio_is_the_least_saving_frame_around_the_demands(tmp_path: Path) -> None:
    _run(tmp_path / "a", ("short", 159, 131), ("chat", 199, 154), ("presence", 4851, 1434))
    assert wire_ratio(True, 171, tmp_path).frame == "short"  # 0.824 beats 0.774: the least saving
    assert wire_ratio(True, 199, tmp_path).ratio == 154 / 199  # a measured size: that frame alone
    assert wire_ratio(True, 9_000, tmp_path).ratio == 1434 / 4851  # above them all: the largest
    below = wire_ratio(True, 150, tmp_path)  # smaller than any measured frame: not measured, raw
    assert below.ratio == 1 and "no kept deflate run measured a frame as small as 150 B" in below.why
    # a second kept run that saves less at the same size wins: the figure no run contradicts
    _run(tmp_path / "b", ("short", 160, 150), ("chat", 200, 180))
    kept_frames.cache_clear()
    worst = wire_ratio(True, 171, tmp_path)
    assert worst.ratio == 150 / 160 and worst.source == "b/deflate.json"


def test_small_frames_and_the_setting_off_read_no_run(tmp_path: Path) -> None:
    """Under the runtime's STARS_WS_DEFLATE_MIN_BYTES a frame leaves as it is; nothing is read."""
    assert deflate.MIN_PAYLOAD_BYTES == Settings.ws_deflate_min_bytes == 128
    assert DemandConfig.model_fields["websocket_deflate"].default is Settings.ws_deflate is True
    assert payload_bytes(127) == 125 and payload_bytes(171) == 167 and payload_bytes(70_000) == 69_990
    assert wire_ratio(True, 131, tmp_path).ratio == 1  # 127-byte payload, 4-byte header
    assert wire_ratio(True, 0, tmp_path).ratio == 1  # no frames at all (fit's "no transfer")
    assert wire_ratio(False, 171, tmp_path).ratio == 1


def test_no_kept_run_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: without a readable run the frames' wire bytes are unknown (budget/deflate.py says why
    this is not priced uncompressed); the owner can say so on purpose with websocket_deflate: false."""
    monkeypatch.setattr(deflate, "MEASURED", tmp_path)
    cfg = load_stack_file(ROOT / "Pulumi.phase1.yaml")
    with pytest.raises(DemandError) as caught:
        traffic(demand_of(cfg))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("stars:demand.websocket_deflate is true but no kept")
    assert "websocket_deflate: false" in message and "python -m bench deflate" in message
    assert cfg.demand is not None
    off = traffic(cfg.demand.model_copy(update={"websocket_deflate": False}))
    assert off.websocket_gb == off.websocket_raw_gb


def test_fit_without_a_kept_run_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deflate, "MEASURED", tmp_path)
    assert main(["fit", "--stack", "phase1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("budget fit: phase1: stars:demand.websocket_deflate is true but no kept")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "cannot read the kept deflate run"),
        ("[" * 100_000 + "]" * 100_000, "cannot read the kept deflate run: not valid JSON .nested deeper"),
        (" " * (1024 * 1024 + 1), "cannot read the kept deflate run: larger than the 1 MiB limit"),
        ('{"runs": {}}', "no list of runs"),
        ('{"runs": [{"benchmark": "floor"}]}', "no deflate run with measured frames"),
        (
            '{"runs": [{"benchmark": "deflate", "frames": [1]}]}',
            r"runs\[0\] \(deflate\) frames\[0\]: input should be a valid dictionary",
        ),
        ('{"runs": [{"benchmark": "deflate", "frames": 3}]}', r"frames: input should be a valid list"),
        (  # a renamed field: named, never read as a default
            '{"runs": [{"benchmark": "deflate", "frames": [{"frame": "x", "plain": 100,'
            ' "deflated_bytes": 50}]}]}',
            r"runs\[0\] \(deflate\) frames\[0\]\.plain_bytes: field required$",
        ),
        (
            '{"runs": [{"benchmark": "deflate", "frames": [{"frame": "x", "plain_bytes": 100,'
            ' "deflated_bytes": 120}]}]}',
            "0 < deflated_bytes <= plain_bytes",
        ),
        (
            '{"runs": [{"benchmark": "deflate", "frames": [{"frame": "x", "plain_bytes": true,'
            ' "deflated_bytes": true}]}]}',
            r"frames\[0\]\.plain_bytes: input should be a valid integer",
        ),
    ],
)
def test_a_malformed_kept_run_is_refused_naming_the_file(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "deflate.json").write_text(text, encoding="utf-8")
    with pytest.raises(DeflateRunError, match=says) as caught:
        wire_ratio(True, 171, tmp_path)
    assert "deflate.json" in str(caught.value) and "\n" not in str(caught.value)


SCALARS = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
JSON = st.recursive(
    SCALARS | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
FRAME = st.fixed_dictionaries(
    {"frame": st.text(max_size=10), "plain_bytes": JSON | st.integers(0, 10_000)},
    optional={"deflated_bytes": JSON | st.integers(0, 10_000)},
)
RUN = st.fixed_dictionaries(
    {"benchmark": st.sampled_from(["deflate", "floor"]) | JSON, "frames": st.lists(FRAME, max_size=4) | JSON}
)


@settings(
    max_examples=int(os.environ.get("STARS_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(document=st.fixed_dictionaries({"runs": st.lists(RUN, max_size=3) | JSON}) | JSON)
def test_any_kept_run_gives_a_ratio_or_a_one_line_refusal(tmp_path: Path, document: Any) -> None:
    folder = tmp_path / str(abs(hash(json.dumps(document, sort_keys=True, default=str))))
    folder.mkdir(exist_ok=True)
    (folder / "deflate.json").write_text(json.dumps(document), encoding="utf-8")
    try:
        got = wire_ratio(True, 171, folder)
    except DeflateRunError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("deflate.json")
        return
    assert 0 < got.ratio <= 1


@pytest.mark.parametrize("value", ["'true'", "1", "0", "null", "[true]"])
def test_websocket_deflate_takes_a_bool_only(tmp_path: Path, value: str) -> None:
    text = (ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8")
    changed = text.replace("    websocket_deflate: true", f"    websocket_deflate: {value}", 1)
    assert changed != text
    path = tmp_path / "Pulumi.phase1.yaml"
    path.write_text(changed, encoding="utf-8")
    with pytest.raises(ConfigError, match="websocket_deflate"):
        parse_stack_config("phase1", read_stack_file(path))


def test_fit_shows_the_derivation_with_the_ratio_and_its_run(budget_cli: BudgetCli) -> None:
    run = budget_cli("fit", "--all", "--format", "json")
    assert run.returncode in (0, 1), run.stderr
    phase1 = next(doc for doc in json.loads(run.stdout)["stacks"] if doc["stack"] == "phase1")
    shown = phase1["traffic"]
    assert phase1["demand"]["websocket_deflate"] is True  # the existing fields are kept
    assert (shown["total_gb"], shown["websocket_raw_gb"], shown["websocket_gb"]) == (3000, 262.8, 216.79)
    assert shown["deflate_saved_gb"] == 46.01 and shown["wire_gb"] == 2953.99
    assert shown["deflate"]["ratio"] == round(131 / 159, 4)
    assert shown["deflate"]["frame"] == "short chat message"
    assert shown["deflate"]["source"] == "bench/measured/2026-12-05-send-floor/deflate.json"
    [report] = [r for r in parse_fit(json.loads(run.stdout)) if r.stack == "phase1"]
    assert isinstance(report, FitReport) and report.traffic is not None
    line = traffic_line(report.traffic)
    assert line.startswith("Traffic a month: 3,000.0 GB used, 2,954.0 GB on the wire; real-time frames")
    assert "262.8 GB raw, 216.8 GB sent (permessage-deflate ratio 0.8239: 'short chat message' in" in line
