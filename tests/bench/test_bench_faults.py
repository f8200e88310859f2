"""Short versions of every fault scenario of ``python -m bench faults``: nothing acknowledged is lost,
duplicated or reordered, no acknowledgement is false, and each fault shows up as it should."""

from __future__ import annotations

import psutil
import pytest

from bench.faults import run_faults

pytestmark = pytest.mark.services


def test_every_fault_scenario_keeps_every_guarantee() -> None:
    out = run_faults(quick=True, log=lambda _line: None)
    by_name = {s["scenario"]: s for s in out["scenarios"]}
    assert set(by_name) == {"kill9", "redis-down", "postgres-down", "slow-consumers", "drain", "storm"}
    for name, s in by_name.items():
        assert s["acknowledged"] > 0 and s["delivered"] > 0, (name, s)
        assert (s["lost"], s["duplicated"], s["out_of_order"], s["false_acks"]) == (0, 0, 0, 0), (name, s)
        assert s["error_but_stored"] == 0 and s["stored"] >= s["acknowledged"], (name, s)
        assert s["resume_max_s"] is not None and s["resume_max_s"] < 30, (name, s)
    assert by_name["postgres-down"]["errors"].get("unavailable", 0) > 0, (
        "publishes fail clearly while it is down"
    )
    assert by_name["drain"]["closes"].get(1001, 0) > 0
    assert by_name["kill9"]["closes"], "the killed workers' subscribers were disconnected"
    assert sum(by_name["slow-consumers"]["closes"].values()) > 0, "the stalled subscribers were cut off"
    assert by_name["storm"]["delivered"] == 2 * out["scale"]["storm"]  # two bursts
    alive = [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [p.cmdline()[:3] for p in alive]


def test_a_cluster_that_fails_to_start_stops_what_it_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: Redis was left running when PostgreSQL failed to come up."""
    from bench import servers
    from bench.faults import Cluster

    def broken_init(self: servers.PostgresServer) -> None:
        raise RuntimeError("initdb failed")

    monkeypatch.setattr(servers.PostgresServer, "init", broken_init)
    with pytest.raises(RuntimeError, match="initdb failed"), Cluster(servers=1, workers=1):
        pass
    alive = [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [p.cmdline()[:3] for p in alive]


def test_an_unknown_scenario_is_refused_before_anything_starts() -> None:
    from bench.faults import NAMES, scenario_names

    assert scenario_names("") == [] and scenario_names("kill9, storm") == ["kill9", "storm"]
    with pytest.raises(ValueError, match=r"unknown scenario\(s\) redis; known: kill9"):
        scenario_names("kill9,redis")
    assert set(NAMES) == {"kill9", "redis-down", "postgres-down", "slow-consumers", "drain", "storm"}


def test_the_stored_messages_are_read_from_a_server_that_answers() -> None:
    """After the drain scenario the drained server's process can outlive its listening socket: reading the
    history from it was refused (a CI failure under load). ``serving`` skips a live process that does not
    answer and takes the one that does."""
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from types import SimpleNamespace

    from bench.faults import Cluster
    from bench.servers import free_port

    class Healthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *_args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Healthy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    alive = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in range(2)]
    try:
        drained = SimpleNamespace(process=alive[0], http=f"http://127.0.0.1:{free_port()}")
        answering = SimpleNamespace(process=alive[1], http=f"http://127.0.0.1:{httpd.server_port}")
        assert Cluster.serving(SimpleNamespace(servers=[drained, answering])) is answering  # type: ignore[arg-type]  # stand-ins
        with pytest.raises(AssertionError, match="no server"):
            Cluster.serving(SimpleNamespace(servers=[drained]))  # type: ignore[arg-type]  # stand-ins
    finally:
        for proc in alive:
            proc.kill()
            proc.wait()
        httpd.shutdown()
