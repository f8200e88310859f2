"""Both clients through the runtime's faults (bench.clients.faults: kill -9 and restart, a drain onto a
second server, Redis down 10 s, a silent network cut), with a publisher on the other server throughout:
each client delivers every acknowledged message exactly once, in order, says it disconnected and
resubscribed (a gap it recovered, a 1001 on a drain, a keepalive timeout on a cut) and ends connected.
Resume time per fault is printed (``-s``); ``python -m bench.client_faults`` measures the same runs."""

from __future__ import annotations

import pytest

from bench.clients.cluster import Cluster
from bench.clients.faults import FAULTS, Handle, run_fault

pytestmark = [pytest.mark.services]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault(handle: Handle, cluster: Cluster, fault: str) -> None:
    run = run_fault(handle, cluster, fault)
    figures = run.figures()
    print(
        f"\n{run.client} {fault}: "
        + ", ".join(f"{k} {v}" for k, v in figures.items() if k not in ("client", "fault"))
    )
    assert run.problems() == []
    assert run.acked and run.resume_s is not None and run.resume_s >= 0
