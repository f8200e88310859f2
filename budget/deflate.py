"""permessage-deflate on the wire: the share of a real-time frame's bytes that leaves the servers compressed.

The runtime negotiates permessage-deflate without context takeover and has it on by default
(``runtime/deflate.py``, ``STARS_WS_DEFLATE``); browsers and the project's clients offer it, and
CloudFront's ``AllViewer`` origin request policy passes the offer (``Sec-WebSocket-Extensions``) to the
servers. What a frame then costs on the wire is its bytes x the ratio ``python -m bench deflate`` measured
for realistic frames, read from the runs kept as ``bench/measured/**/deflate.json`` (as
``budget/capacity.py`` reads its runs: keep a new run and the next call reads it; nothing copied by hand).

Which measured frame: deflate saves more the larger the frame (a chat message 18-23%, a presence list
70%), so the ratio comes from the measured frames around the demand's frame size, the nearest at or below
it and the nearest at or above it, and of those the one that saves least; of several kept runs, the run
that saves least (as capacity takes the slowest window). A frame larger than every measured one takes the
largest one's ratio (longer JSON compresses at least as well); a frame smaller than every measured one is
priced uncompressed (not measured, and smaller frames save less); a frame whose payload is under the
runtime's ``STARS_WS_DEFLATE_MIN_BYTES`` leaves uncompressed (ratio 1), as ``runtime.deflate`` sends it.

Only the frames the servers send are compressed here: pings and pongs are control frames, which
permessage-deflate never compresses (RFC 7692 section 6), and the clients' publishes are priced raw
(whether a client compresses what it sends is its choice, and the kept run measures server frames). Both
err towards more bytes.

No readable run fails closed (:class:`DeflateRunError`, one line). A missing or malformed kept run is a
broken checkout or a bad edit, not a fact about the users: pricing the frames uncompressed instead would
silently move every stack's derived usage away from what its file states. The message names both ways
out: keep a run, or set ``stars:demand.websocket_deflate: false`` to price the frames uncompressed on
purpose (which reads no run at all). ``budget fit --measured`` changes the capacity runs only: the stack
files' stated usage is derived from the kept deflate runs, and a test holds the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from budget.capacity import MEASURED, ROOT
from budget.kept_runs import DeflateRun, refusal
from components.bounded_input import InputError, read_json

#: The runtime's default ``STARS_WS_DEFLATE_MIN_BYTES``: a frame whose payload is smaller leaves as it is.
#: Stated here, not imported: the budget package (and the policy pack that carries it) does not depend on
#: the runtime; tests/budget/test_budget_deflate.py holds it equal to ``runtime.config.Settings``'.
MIN_PAYLOAD_BYTES = 128
#: The kept runs' file name, in any sub-folder of the measured runs.
RUN_FILE = "deflate.json"
#: A kept run larger than this is not a deflate run (the kept one is 3 KB): refused, not read.
MAX_RUN_BYTES = 1024 * 1024


class DeflateRunError(ValueError):
    """No kept deflate run can be read, so the frames' bytes on the wire are unknown."""


@dataclass(frozen=True)
class MeasuredFrame:
    """One frame of a kept run: its bytes plain and as the runtime sends it compressed."""

    source: str
    frame: str
    plain_bytes: int
    deflated_bytes: int

    @property
    def ratio(self) -> float:
        return self.deflated_bytes / self.plain_bytes


@dataclass(frozen=True)
class WireRatio:
    """A real-time frame's bytes on the wire over its own bytes, and where that figure comes from."""

    ratio: float
    why: str
    frame: str = ""
    source: str = ""


def payload_bytes(frame_bytes: float) -> float:
    """A server frame's payload: its bytes less the header (2 bytes up to 125, 4 up to 65,535, else 10;
    RFC 6455 section 5.2; server frames carry no mask)."""
    if frame_bytes - 2 <= 125:
        return frame_bytes - 2
    return frame_bytes - 4 if frame_bytes - 4 <= 65_535 else frame_bytes - 10


def _read(path: Path, folder: Path) -> list[MeasuredFrame]:
    """The frames of one kept file (typed: ``budget.kept_runs.DeflateRun``), named from the repository's
    root (else from ``folder``)."""
    source = str(path.relative_to(ROOT if path.is_relative_to(ROOT) else folder))
    try:  # bounded in size and nesting, UTF-8 only: components.bounded_input
        data = read_json(path, MAX_RUN_BYTES)
    except InputError as exc:
        raise DeflateRunError(f"{source}: cannot read the kept deflate run: {exc}") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list):
        raise DeflateRunError(f"{source}: no list of runs")
    frames: list[MeasuredFrame] = []
    for i, run in enumerate(runs):
        if not (isinstance(run, dict) and run.get("benchmark") == "deflate"):
            continue  # another benchmark's run
        try:
            checked = DeflateRun.model_validate(run)
        except ValidationError as exc:
            raise DeflateRunError(refusal(source, f"runs[{i}] (deflate)", exc)) from None
        frames += [MeasuredFrame(source, f.frame, f.plain_bytes, f.deflated_bytes) for f in checked.frames]
    if not frames:
        raise DeflateRunError(f"{source}: no deflate run with measured frames")
    return frames


@lru_cache(maxsize=8)
def kept_frames(folder: Path = MEASURED) -> tuple[tuple[MeasuredFrame, ...], ...]:
    """Every kept run's frames (one tuple per file), read once per process and folder."""
    files = sorted(folder.rglob(RUN_FILE))
    if not files:
        raise DeflateRunError(
            f"no kept permessage-deflate run ({RUN_FILE} under bench/measured/): keep one"
            " (python -m bench deflate) or set stars:demand.websocket_deflate: false to price the"
            " real-time frames uncompressed"
        )
    return tuple(tuple(_read(path, folder)) for path in files)


def _least_saving_around(frame_bytes: float, frames: tuple[MeasuredFrame, ...]) -> MeasuredFrame | None:
    """Of the measured frames nearest ``frame_bytes`` (at or below, at or above), the one that saves
    least; None below the smallest measured frame."""
    below = [f for f in frames if f.plain_bytes <= frame_bytes]
    above = [f for f in frames if f.plain_bytes >= frame_bytes]
    if not below:
        return None
    around = [max(below, key=lambda f: (f.plain_bytes, f.ratio))]
    if above:
        around.append(min(above, key=lambda f: (f.plain_bytes, -f.ratio)))
    return max(around, key=lambda f: f.ratio)


def wire_ratio(enabled: bool, frame_bytes: float, folder: Path | None = None) -> WireRatio:
    """The ratio for a real-time frame of ``frame_bytes`` (``enabled``: the demand's websocket_deflate)."""
    if not enabled:
        return WireRatio(1.0, "stars:demand.websocket_deflate is false: frames priced uncompressed")
    if payload_bytes(frame_bytes) < MIN_PAYLOAD_BYTES:
        return WireRatio(
            1.0,
            f"a {frame_bytes:g}-byte frame's payload is under STARS_WS_DEFLATE_MIN_BYTES"
            f" ({MIN_PAYLOAD_BYTES}): sent uncompressed",
        )
    picks = [_least_saving_around(frame_bytes, run) for run in kept_frames(folder or MEASURED)]
    if any(p is None for p in picks):
        return WireRatio(
            1.0, f"no kept deflate run measured a frame as small as {frame_bytes:g} B: priced uncompressed"
        )
    worst = max((p for p in picks if p is not None), key=lambda p: p.ratio)
    return WireRatio(
        worst.ratio,
        f"the least saving of the measured frames around {frame_bytes:g} B"
        f" ({worst.plain_bytes} B -> {worst.deflated_bytes} B)",
        frame=worst.frame,
        source=worst.source,
    )
