"""Prometheus metrics. With several workers, ``serve`` sets PROMETHEUS_MULTIPROC_DIR so that
/metrics on any worker reports the sum over all of them.

Hot-path counters are incremented once per message per process (``inc(n)``), not once per delivery.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

CONNECTIONS = Gauge("stars_connections", "Open WebSocket connections", multiprocess_mode="livesum")
# The same per worker (a `pid` label with several workers): shows how the kernel spread the sockets.
WORKER_CONNECTIONS = Gauge(
    "stars_worker_connections", "Open WebSocket connections of this worker", multiprocess_mode="liveall"
)
SUBSCRIPTIONS = Gauge("stars_subscriptions", "Active channel subscriptions", multiprocess_mode="livesum")
MESSAGES_IN = Counter("stars_messages_in", "Messages published and committed", ["via"])
DELIVERIES = Counter("stars_deliveries", "Message frames queued to subscribers")
SLOW_DISCONNECTS = Counter("stars_slow_client_disconnects", "Connections closed as slow consumers (4008)")
KEEPALIVE_TIMEOUTS = Counter("stars_keepalive_timeouts", "Connections closed for an unanswered ping (1011)")
REDIS_RECONNECTS = Counter("stars_redis_reconnects", "Redis pub/sub reconnections")
CATCHUPS = Counter("stars_catchups", "Channel catch-ups from the database (gaps, Redis reconnects)")
REJECTED = Counter("stars_rejected_frames", "Client frames answered with an error", ["code"])
PUBLISH_STATEMENTS = Counter(
    "stars_db_publish_statements", "Statements that stored publishes (group commit: several per statement)"
)
PUBLISHES_STORED = Counter(
    "stars_db_publishes_stored", "Publishes stored; divided by the statements: publishes per statement"
)
LOG_SUPPRESSED = Counter("stars_log_suppressed", "Log lines dropped as repeats (runtime.logs)", ["logger"])
HTTP_REFUSED = Counter(
    "stars_http_refused",
    "HTTP connections answered and closed by the limits (408 deadline, 431 headers, 503 socket cap)",
    ["status"],
)
GC_RECLAIMS = Counter("stars_gc_reclaims", "Full collections including frozen objects (runtime.gctune)")
LATENCY = Histogram(
    "stars_publish_to_delivery_seconds",
    "Time from commit of a message to its fan-out on this worker",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def render(multiprocess_dir: str | None) -> tuple[bytes, str]:
    """The metrics of this process, or with ``multiprocess_dir`` (several workers) of all of them."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
