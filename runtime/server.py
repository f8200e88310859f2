"""Launching uvicorn the way the runtime needs it, and draining on SIGTERM.

uvicorn's own shutdown closes WebSockets with 1012 at once. We want /readyz to answer 503 first, then
1001 so clients reconnect elsewhere and resume. Each worker's lifespan start-up (inside uvicorn's
signal capture) therefore wraps uvicorn's SIGTERM/SIGINT handler: the first signal runs our drain
and only then hands the signal to uvicorn; a second SIGINT forces the exit as usual.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import logging
import os
import shutil
import signal
import tempfile
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from runtime import logs, uvicornseam
from runtime.config import Settings
from runtime.origin import OriginPolicy

if TYPE_CHECKING:
    from runtime.service import Runtime

log = logging.getLogger("runtime")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def install_drain_handler(rt: Runtime) -> None:
    """Call from the running loop in the main thread (the lifespan start-up)."""
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    started = False

    def hand_over(sig: int, frame: FrameType | None) -> None:
        handler = previous[sig]
        if callable(handler):
            handler(sig, frame)
        else:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        nonlocal started
        if started:
            if sig == signal.SIGINT:
                hand_over(sig, frame)
            return
        started = True

        async def drain_then_exit() -> None:
            try:
                await rt.drain()
            finally:
                hand_over(sig, frame)

        loop.call_soon_threadsafe(lambda: loop.create_task(drain_then_exit()))

    for sig in _SIGNALS:
        signal.signal(sig, on_signal)


def startup_checks(settings: Settings) -> list[str]:
    """Say loudly (WARNING) which features the installed uvicorn cannot give this runtime; returns the
    lines logged. Without direct writes every frame goes through ASGI ``send`` (slower, same frames);
    without keepalive pings dead clients are found only by the load balancer's idle timeout."""
    lines = []
    missing_http = uvicornseam.missing_http()
    if missing_http:
        lines.append(
            f"HTTP limits unavailable with uvicorn {uvicorn.__version__}: no header or body deadline, header "
            f"size limit or connection cap; missing {', '.join(missing_http)} (runtime/uvicornseam.py)"
        )
    for feature, names in uvicornseam.missing().items():
        if feature == "keepalive pings" and settings.ws_ping_interval <= 0:
            continue
        consequence = {
            "direct writes": "every frame goes through ASGI send instead",
            "keepalive pings": "no keepalive pings are sent (STARS_WS_PING_INTERVAL is ignored)",
        }[feature]
        lines.append(
            f"{feature} unavailable with uvicorn {uvicorn.__version__}: {consequence}; "
            f"missing {', '.join(names)} (runtime/uvicornseam.py)"
        )
    missing_lean = uvicornseam.missing_lean()
    if missing_lean:
        lines.append(
            f"lean connection state unavailable with uvicorn {uvicorn.__version__}: each WebSocket keeps "
            f"uvicorn's asyncio.Queue and Event (~4.5 KB more); uses {', '.join(missing_lean)} "
            "(runtime/uvicornseam.py)"
        )
    missing_deflate = uvicornseam.missing_deflate() if settings.ws_deflate else []
    if missing_deflate:
        lines.append(
            f"permessage-deflate unavailable with uvicorn {uvicorn.__version__}: frames leave uncompressed "
            f"(STARS_WS_DEFLATE is ignored); missing {', '.join(missing_deflate)} (runtime/uvicornseam.py)"
        )
    for line in lines:
        log.warning("%s", line)
    return lines


def http_limits(settings: Settings) -> uvicornseam.HttpLimits:
    return uvicornseam.HttpLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_header_bytes=settings.max_header_bytes,
        max_connections=settings.max_connections,
    )


def serve(host: str, port: int, workers: int = 1, log_level: str | None = None) -> None:
    # Local: each worker imports this module (runtime.app), and alembic costs it 0.2-0.4 s more.
    from runtime.migrate import upgrade

    try:  # each worker builds them again; a malformed value must stop the start-up here, in one line
        settings = Settings.from_env()
        OriginPolicy(settings.allowed_origins)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if log_level:
        settings = dataclasses.replace(settings, log_level=log_level.lower())
    logs.setup(settings)
    if not settings.secret_in_env:
        # Shared by every worker of this run; tokens from the CLI need an explicit STARS_JWT_SECRET.
        os.environ["STARS_JWT_SECRET"] = settings.jwt_secret
        os.environ["STARS_GENERATED_SECRET"] = "1"
        print(
            "STARS_JWT_SECRET is not set: generated a random secret for this run.\n"
            f"  The demo page at http://{host}:{port}/ gets a demo token (loopback clients only).\n"
            "  For other clients set STARS_JWT_SECRET and mint tokens with:\n"
            "  python -m runtime token --sub NAME "
            "--subscribe 'room:*' --publish 'room:*'",
            flush=True,
        )
    if settings.embedded_broker and workers > 1:
        log.warning("no STARS_REDIS_URL: the in-process broker cannot fan out across workers; using 1 worker")
        print("No STARS_REDIS_URL: running 1 worker (set STARS_REDIS_URL for --workers > 1).", flush=True)
        workers = 1
    deflate = settings.ws_deflate and not uvicornseam.missing_deflate()
    startup_checks(settings)
    upgrade(settings.database_url)
    if workers > 1 and not settings.metrics_dir:
        metrics_dir = tempfile.mkdtemp(prefix="stars-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
    config = uvicorn.Config(
        "runtime.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=uvicornseam.HTTP_PROTOCOL if not uvicornseam.missing_http() else "httptools",
        ws=uvicornseam.WS_PROTOCOL if uvicornseam.missing_protocol() is None else "websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=None,  # runtime.keepalive pings every socket from one task instead
        lifespan="on",
        log_config=logs.config(settings),
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_graceful_shutdown=int(settings.drain_timeout) + 5,
        backlog=4096,
    )
    setattr(config, uvicornseam.DEFLATE_ATTR, deflate)
    setattr(config, uvicornseam.LIMITS_ATTR, http_limits(settings))  # pickled with the config to each worker
    server = uvicorn.Server(config)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()
