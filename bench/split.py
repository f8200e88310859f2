"""Where a delivery's server CPU goes: py-spy's collapsed stacks of the servers, sorted into the parts of the
send path, and each part's share turned into microseconds per delivery with the same run's figure.

Each sample is charged to the part of the frame nearest the leaf that belongs to one (so the socket check
inside ``send_frame`` counts as a check, not as the fan-out loop); samples of none of them (the publish
path, the database, Redis) are ``other``. py-spy attributes time in C code to the Python line that
called it: the system call is inside ``DirectWriter.write`` (uvloop's ``transport.write``), the event
loop's own C code is ``Runner.run`` as the leaf.

``python -m bench.split --us-per-delivery 6.7 DIR/ours-*.txt``
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

# part -> function names (py-spy's "Class.method" without the location), checked from the leaf up
PARTS: dict[str, tuple[str, ...]] = {
    "send syscall": ("DirectWriter.write",),
    "encode": ("text_frame", "deflated_frame", "compress", "Deflater.frame", "message", "encode_data"),
    "socket checks": ("DirectWriter.ready", "DirectWriter.open", "Event.is_set"),
    "queue": (
        "Outbox._enqueue",
        "Outbox._write",
        "Outbox.flush",
        "Connection._enqueue",
        "Connection._write",
        "Connection.flush",
        "Coalescer.add",
        "Coalescer.flush",
    ),
    "fan-out loop": ("Hub._dispatch", "Outbox.send_frame", "Connection.send_frame"),
    "event loop": ("Runner.run",),
}
ORDER = (*PARTS, "other")


# ``DirectWriter.send`` checks the socket and writes in one call: its write line is the system call
SPLIT_BY_LINE = {"DirectWriter.send": ("send syscall", "socket checks")}
ROOT = Path(__file__).resolve().parents[1]
_lines: dict[str, list[str]] = {}


def _name(frame: str) -> str:
    return frame.split(" (", 1)[0]


def _source_line(frame: str) -> str:
    """The text of the source line a frame ``name (path:line)`` points at ('' if not found)."""
    where = frame.rpartition(" (")[2].rstrip(")")
    path, _, line = where.rpartition(":")
    if path not in _lines:
        try:
            _lines[path] = (ROOT / path).read_text().splitlines()
        except OSError:
            _lines[path] = []
    text = _lines[path]
    return text[int(line) - 1] if line.isdigit() and 0 < int(line) <= len(text) else ""


def classify(stack: list[str]) -> str:
    names = [_name(f) for f in stack]
    for i, name in enumerate(reversed(names)):
        if name in SPLIT_BY_LINE:
            write, other = SPLIT_BY_LINE[name]
            return write if ".write(" in _source_line(stack[len(stack) - 1 - i]) else other
        for part, funcs in PARTS.items():
            if name in funcs and (part != "event loop" or i == 0):
                return part
    return "other"


def split(paths: list[str], us_per_delivery: float | None = None) -> dict[str, dict[str, float]]:
    """Part -> its share of the samples and, given the run's CPU per delivery, microseconds per delivery."""
    counts: Counter[str] = Counter()
    for path in paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                counts[classify(stack.split(";"))] += int(count)
    total = sum(counts.values())
    out: dict[str, dict[str, float]] = {}
    for part in ORDER:
        share = counts[part] / total if total else 0.0
        out[part] = {"share": round(share, 4), "samples": counts[part]}
        if us_per_delivery is not None:
            out[part]["us_per_delivery"] = round(share * us_per_delivery, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="py-spy --format raw outputs of the server processes")
    parser.add_argument("--us-per-delivery", type=float, help="the run's server CPU per delivery")
    args = parser.parse_args()
    result = split(args.files, args.us_per_delivery)
    for part, row in result.items():
        us = f"  {row['us_per_delivery']:6.2f} us" if "us_per_delivery" in row else ""
        print(f"{part:14s} {row['share'] * 100:5.1f}%{us}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
