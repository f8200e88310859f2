"""The worker's garbage-collector policy (runtime.gctune) and what a connection keeps after accept."""

from __future__ import annotations

import gc
import time
from types import SimpleNamespace

import pytest

from runtime.gctune import GcFreezer
from runtime.uvicornseam import DirectWriter
from tests.runtime.helpers import metric


@pytest.mark.asyncio
async def test_freezer_freezes_after_start_and_after_full_collections() -> None:
    counts = {"open": 100, "closed": 0}
    freezer = GcFreezer(lambda: counts["open"], lambda: counts["closed"], interval=3600)
    try:
        freezer.start()
        assert gc.get_freeze_count() > 0 and freezer.reclaims == 1
        young = [[i] for i in range(1000)]
        gc.collect()  # a full collection, as CPython runs on its own: its survivors get frozen
        before = gc.get_freeze_count()
        freezer.tick()
        assert freezer.freezes == 1 and gc.get_freeze_count() >= before + len(young)
        freezer.tick()  # no full collection since: nothing to do
        assert freezer.freezes == 1 and freezer.reclaims == 1
        counts["closed"] = 999  # churn below max(min_closes, half the open connections): no reclaim
        freezer.tick()
        assert freezer.reclaims == 1
        counts["closed"] = 1001
        freezer.tick()
        assert freezer.reclaims == 2
        counts["closed"] = 1500  # counted from the last reclaim
        freezer.tick()
        assert freezer.reclaims == 2
    finally:
        await freezer.stop()
    assert gc.get_freeze_count() == 0


def test_trim_drops_the_handshake_and_the_scope_contents() -> None:
    scope = {"type": "websocket", "query_string": b"token=secret", "headers": [(b"host", b"x")]}
    proto = SimpleNamespace(
        transport=None, writable=None, handshake_complete=True, request=object(), response=object()
    )
    proto.scope = scope
    DirectWriter(proto).trim(scope)
    assert proto.request is None and proto.response is None and scope == {}

    other = {"type": "websocket", "query_string": b"token=secret"}
    proto.scope = {}
    DirectWriter(proto).trim(other)  # not the protocol's scope: left alone
    assert other["query_string"] == b"token=secret"

    pending = {"type": "websocket"}
    proto.handshake_complete = False
    proto.scope = pending
    proto.request = object()
    DirectWriter(proto).trim(pending)  # not accepted yet: nothing dropped
    assert proto.request is not None and pending == {"type": "websocket"}


def test_workers_apply_the_gc_policy(start_runtime, services_env: dict[str, str]) -> None:
    server = start_runtime(services_env, workers=2)
    # one reclaim at each worker's start-up; /metrics sums the workers (the second may still be starting)
    deadline = time.monotonic() + 15
    while metric(server, "stars_gc_reclaims_total") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metric(server, "stars_gc_reclaims_total") >= 2


def test_gc_policy_can_be_turned_off(start_runtime, services_env: dict[str, str]) -> None:
    server = start_runtime({**services_env, "STARS_GC_FREEZE": "0"})
    assert metric(server, "stars_gc_reclaims_total") == 0
