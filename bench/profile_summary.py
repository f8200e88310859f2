"""Summarise py-spy's collapsed stacks (``--format raw``): where the server's CPU time goes.

``python -m bench.profile_summary DIR/ours-*.txt`` prints the top functions by own time and by
inclusive time, as shares of all samples.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def summarise(paths: list[str], top: int = 25) -> str:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            total += n
            own[frames[-1]] += n
            for f in set(frames):
                incl[f] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"  {c / total * 100:5.1f}%  {f}" for f, c in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {c / total * 100:5.1f}%  {f}" for f, c in incl.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(sys.argv[1:]))
