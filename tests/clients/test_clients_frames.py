"""Property tests of what both clients do with server input, without a server: any text is either a
frame with the documented field types or a ``bad_server_frame``/``unknown_frame`` problem (never an
exception), and any sequence of offsets reaches the application gap-free, in order, each once.

The JavaScript client's ``parseFrame`` gets the same generated inputs under node and must classify
each one as the Python client does."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stars_client.frames import FrameError, parse_frame
from stars_client.offsets import DELIVER, DUPLICATE, GAP, Channel

JS = Path(__file__).resolve().parents[2] / "clients" / "js" / "stars.js"

values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "subscribed", "ack", "error", "pong", "unsubscribed", "x"])},
    optional=dict.fromkeys(("channel", "offset", "data", "id", "code", "message"), values),
)
texts = st.one_of(st.text(max_size=40), frames.map(json.dumps), values.map(json.dumps))


def classify(raw: str) -> str:
    try:
        parse_frame(raw)
    except FrameError as exc:
        return exc.code
    return "ok"


@settings(max_examples=300, deadline=None)
@given(texts)
def test_any_text_is_a_valid_frame_or_a_named_problem(raw: str) -> None:
    try:
        frame = parse_frame(raw)
    except FrameError as exc:
        assert exc.code in ("bad_server_frame", "unknown_frame")
        return
    if frame["type"] in ("message", "subscribed", "ack"):
        assert isinstance(frame["offset"], int) and frame["offset"] >= 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=60), st.integers(0, 5))
def test_offsets_reach_the_application_gap_free_and_once(offsets: list[int], start: int) -> None:
    channel = Channel("room:x", None)
    channel.on_subscribed(start)
    delivered: list[int] = []
    for offset in offsets:
        verdict = channel.classify(offset)
        if verdict == DELIVER:
            channel.delivered(offset)
            delivered.append(offset)
        elif verdict == GAP:  # the client resumes from `last`: a fresh subscribe answered by the server
            channel.disconnected()
            channel.on_subscribed(max(offsets))
        else:
            assert verdict == DUPLICATE
    assert delivered == list(range(start + 1, start + 1 + len(delivered)))


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(texts, min_size=150, max_size=150))
def test_the_javascript_client_classifies_server_frames_as_the_python_one(raws: list[str]) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is missing: apt-get install -y nodejs (or run .ci/setup --test)")
    script = (
        f"import('{JS.as_uri()}').then((m) => {{"
        " const raws = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        " console.log(JSON.stringify(raws.map((r) => { const p = m.parseFrame(r);"
        " return p.problem ? p.problem[0] : 'ok'; }))); });"
    )
    out = subprocess.run(["node", "-e", script], input=json.dumps(raws), capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    assert json.loads(out.stdout) == [classify(r) for r in raws]
