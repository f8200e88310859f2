"""Logging without a server: the rate limit on repeated warnings, its count, the line formats."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from runtime import metrics
from runtime.config import Settings
from runtime.logs import JSONFormatter, RateLimit, Redact, config


def _record(
    msg: str, level: int = logging.WARNING, name: str = "runtime.hub", args: tuple = ()
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeated_warnings_pass_five_times_per_window_and_the_rest_are_counted() -> None:
    clock = [100.0]
    limit = RateLimit(burst=5, window=10.0, clock=lambda: clock[0])
    before = metrics.LOG_SUPPRESSED.labels("runtime.hub")._value.get()
    passed = [limit.filter(_record("broker publish failed (%s)", args=(i,))) for i in range(100)]
    assert passed.count(True) == 5 and passed[:5] == [True] * 5
    assert metrics.LOG_SUPPRESSED.labels("runtime.hub")._value.get() - before == 95
    assert limit.filter(_record("another message")), "a different template has its own budget"
    assert limit.filter(_record("x", level=logging.INFO)) and all(
        limit.filter(_record("x", level=logging.INFO)) for _ in range(20)
    ), "info lines are not limited"
    clock[0] += 10.0
    record = _record("broker publish failed (%s)", args=(1,))
    assert limit.filter(record)
    assert record.getMessage() == "broker publish failed (1) [95 similar lines suppressed in the last 10 s]"


def test_json_lines_and_redaction() -> None:
    record = _record('%s - "WebSocket %s" 403', level=logging.WARNING, name="uvicorn.error",
                     args=("127.0.0.1:5", "/ws?token=abc.def"))  # fmt: skip
    assert Redact().filter(record)
    line = json.loads(JSONFormatter().format(record))
    assert line["level"] == "WARNING" and line["logger"] == "uvicorn.error" and line["pid"] > 0
    assert line["message"] == '127.0.0.1:5 - "WebSocket /ws?token=[redacted]" 403'
    assert line["time"].endswith("Z")
    quiet = _record(
        '%s - "WebSocket %s" [accepted]', level=logging.INFO, name="uvicorn.error", args=("a", "/ws")
    )
    assert not Redact().filter(quiet) and Redact(per_connection=True).filter(quiet)


def test_config_sets_the_level_and_format_from_settings() -> None:
    cfg = config(Settings(log_level="debug", log_json=True))
    assert cfg["root"]["level"] == "DEBUG" and cfg["formatters"]["stars"]["()"] is JSONFormatter
    assert cfg["handlers"]["stderr"]["filters"] == ["redact", "ratelimit"]


def test_uvicorns_trace_level_is_accepted_before_uvicorn_starts() -> None:
    """Regression: `serve --log-level trace` crashed in logging setup (Unknown level: 'TRACE'). In a
    fresh interpreter, where nothing of uvicorn has named the level yet."""
    code = (
        "import logging; from runtime.config import Settings; from runtime.logs import setup;"
        " setup(Settings(log_level='trace')); print(logging.getLogger('runtime').level)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5"
