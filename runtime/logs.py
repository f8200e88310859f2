"""Logging, set up once for the runtime's modules and uvicorn's, in every process of ``serve``.

Each line carries a UTC timestamp, the level, the logger and the worker's pid; ``STARS_LOG_LEVEL``
sets the level and ``STARS_LOG_JSON=1`` writes one JSON object per line instead of text. The same
configuration is handed to uvicorn (``log_config``), which applies it in the supervisor and in each
worker it spawns. Two filters sit on the one handler:

- ``RateLimit``: a warning or error that repeats (same logger, same message template) is written at
  most ``burst`` times per ``window`` seconds; the rest are dropped and counted in
  ``stars_log_suppressed_total{logger}``, and the next line that passes says how many were dropped.
  While Redis is down a worker would otherwise log one warning per publish.
- ``Redact``: tokens in URLs never reach the log; uvicorn's per-WebSocket lines (open, closed, the
  handshake line), tens of thousands in a reconnect storm, only with ``STARS_ACCESS_LOG=1``; and a
  client's invalid UTF-8 (closed with 1007) is a warning without uvicorn's traceback.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from runtime import metrics, uvicornseam
from runtime.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
# A query parameter whose name, once percent-decoded, is a token's (``?%74oken=`` is ``?token=``).
_PARAM_RE = re.compile(r"([?&;])([^=&;\s\"'?#]{1,64})=([^&;\s\"'#]*)")
_SECRET_PARAMS = frozenset({"token", "access_token", "jwt"})
# A JWT anywhere (its dots possibly percent-encoded), and header lines that carry credentials (the
# WebSocket layer logs every handshake header at debug level).
_JWT_RE = re.compile(r"eyJ[\w-]*(?:\.|%2[eE])[\w-]+(?:\.|%2[eE])[\w-]*")
_HEADER_RE = re.compile(
    r"(?i)\b(authorization|proxy-authorization|sec-websocket-protocol|cookie|set-cookie)(['\"]?\s*[:,=]\s*['\"]?)"
    r"([^\r\n'\"]+)"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` without credentials: token query parameters, JWTs, credential header values."""

    def param(m: re.Match[str]) -> str:
        key = unquote_plus(m.group(2)).strip().lower()
        return f"{m.group(1)}{m.group(2)}={REDACTED}" if key in _SECRET_PARAMS else m.group(0)

    if "=" in text:
        text = _PARAM_RE.sub(param, text)
    if "eyJ" in text:
        text = _JWT_RE.sub(REDACTED, text)
    return _HEADER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


class UTCFormatter(logging.Formatter):
    """ISO 8601 time in UTC with milliseconds, whatever the host's time zone."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JSONFormatter(UTCFormatter):
    """One JSON object per line: time, level, logger, pid, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class RateLimit(logging.Filter):
    """At most ``burst`` warnings (and errors) per logger and message template per ``window`` seconds."""

    def __init__(
        self, burst: int = 5, window: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, str], list[float]] = {}  # key -> [window start, passed, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.msg if isinstance(record.msg, str) else type(record.msg).__name__)
        now = self.clock()
        state = self._seen.get(key)
        if state is None or now - state[0] >= self.window:
            dropped = int(state[2]) if state else 0
            if len(self._seen) >= 1000:  # templates are few; a flood of distinct ones must not grow this
                self._seen.clear()
            self._seen[key] = [now, 1, 0]
            if dropped:
                record.msg = (
                    f"{record.msg} [{dropped} similar lines suppressed in the last {self.window:g} s]"
                )
            return True
        if state[1] < self.burst:
            state[1] += 1
            return True
        state[2] += 1
        metrics.LOG_SUPPRESSED.labels(record.name).inc()
        return False


class Redact(logging.Filter):
    """No token in any line; uvicorn's per-WebSocket lines only when asked for."""

    def __init__(self, per_connection: bool = False) -> None:
        super().__init__()
        self.per_connection = per_connection

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.per_connection and record.levelno <= logging.INFO and record.name == uvicornseam.LOGGER:
            message = record.msg if isinstance(record.msg, str) else ""
            if message in uvicornseam.PER_CONNECTION_MESSAGES or message.startswith(
                uvicornseam.ACCESS_LINE_PREFIX
            ):
                return False
        if record.name == uvicornseam.LOGGER and record.msg in uvicornseam.CLIENT_FAULT_MESSAGES:
            record.exc_info, record.exc_text = None, None  # a traceback per bad frame would flood the log
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging itself reports it when formatting
            return True
        clean = redact(message)
        if clean != message:  # the formatted line, so that a credential split over the arguments goes too
            record.msg, record.args = clean, None
        return True


def config(settings: Settings) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a runtime process (also uvicorn's ``log_config``)."""
    level = settings.log_level.upper()
    formatter: dict[str, Any] = (
        {"()": JSONFormatter} if settings.log_json else {"()": UTCFormatter, "format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"stars": formatter},
        "filters": {
            "redact": {"()": Redact, "per_connection": settings.access_log},
            "ratelimit": {"()": RateLimit},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "stars",
                "filters": ["redact", "ratelimit"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level}
            for name in ("runtime", "uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def setup(settings: Settings) -> None:
    uvicornseam.register_trace_level()  # `serve --log-level trace` is uvicorn's, and always was accepted
    logging.config.dictConfig(config(settings))
