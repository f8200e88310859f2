"""Settings read once from the environment, so every worker of a deployment agrees on them."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SQLITE = "sqlite+aiosqlite:///var/stars-runtime.db"  # relative to the working directory


def async_database_url(url: str) -> str:
    """Map plain URLs (as operators and RDS write them) to the async drivers we use."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") or url == "sqlite://":
        return "sqlite+aiosqlite://" + url[len("sqlite:") + 2 :]
    return url


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates the file but not its directory."""
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Everything tunable; names match the STARS_* environment variables in runtime/README.md."""

    redis_url: str | None = None
    database_url: str = DEFAULT_SQLITE
    jwt_secret: str = field(default="", repr=False)
    secret_generated: bool = False
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_timeout: float = 5.0
    max_frame_bytes: int = 64 * 1024
    max_subscriptions: int = 100
    queue_messages: int = 1000
    queue_bytes: int = 1024 * 1024
    slow_abort: float = 5.0
    publish_rate: float = 50.0
    publish_burst: int = 100
    history_limit: int = 1000
    presence_ttl: int = 60
    drain_grace: float = 1.0
    drain_timeout: float = 10.0
    redis_prefix: str = "stars:"
    gc_freeze: bool = True
    ws_ping_interval: float = 20.0  # uvicorn's default; 0 turns server pings off
    ws_ping_timeout: float = 20.0

    @property
    def embedded_broker(self) -> bool:
        return not self.redis_url

    @classmethod
    def from_env(cls) -> Settings:
        secret = os.environ.get("STARS_JWT_SECRET", "")
        generated = os.environ.get("STARS_GENERATED_SECRET") == "1"
        if not secret:
            secret, generated = secrets.token_urlsafe(32), True
        database = os.environ.get("STARS_DATABASE_URL") or DEFAULT_SQLITE
        return cls(
            redis_url=os.environ.get("STARS_REDIS_URL") or None,
            database_url=async_database_url(database),
            jwt_secret=secret,
            secret_generated=generated,
            db_pool_size=_int("STARS_DB_POOL_SIZE", cls.db_pool_size),
            db_max_overflow=_int("STARS_DB_MAX_OVERFLOW", cls.db_max_overflow),
            db_timeout=_float("STARS_DB_TIMEOUT", cls.db_timeout),
            max_frame_bytes=_int("STARS_MAX_FRAME_BYTES", cls.max_frame_bytes),
            max_subscriptions=_int("STARS_MAX_SUBSCRIPTIONS", cls.max_subscriptions),
            queue_messages=_int("STARS_QUEUE_MESSAGES", cls.queue_messages),
            queue_bytes=_int("STARS_QUEUE_BYTES", cls.queue_bytes),
            slow_abort=_float("STARS_SLOW_CLIENT_ABORT", cls.slow_abort),
            publish_rate=_float("STARS_PUBLISH_RATE", cls.publish_rate),
            publish_burst=_int("STARS_PUBLISH_BURST", cls.publish_burst),
            history_limit=_int("STARS_HISTORY_LIMIT", cls.history_limit),
            presence_ttl=_int("STARS_PRESENCE_TTL", cls.presence_ttl),
            drain_grace=_float("STARS_DRAIN_GRACE", cls.drain_grace),
            drain_timeout=_float("STARS_DRAIN_TIMEOUT", cls.drain_timeout),
            gc_freeze=os.environ.get("STARS_GC_FREEZE", "1") != "0",
            ws_ping_interval=_float("STARS_WS_PING_INTERVAL", cls.ws_ping_interval),
            ws_ping_timeout=_float("STARS_WS_PING_TIMEOUT", cls.ws_ping_timeout),
        )


STATIC_DIR = Path(__file__).parent / "static"
