"""Launching uvicorn the way the runtime needs it, and draining on SIGTERM.

uvicorn's own shutdown closes WebSockets with 1012; we want 1001 plus a period in which /readyz
answers 503, so the first SIGTERM/SIGINT starts our drain and only then lets uvicorn exit. A second
SIGINT forces the exit as usual.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import tempfile
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

from runtime import service

log = logging.getLogger("runtime")


class DrainingServer(uvicorn.Server):
    _drain_started = False
    _loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets=None) -> None:  # type: ignore[no-untyped-def]
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_started:
            if sig == signal.SIGINT:
                super().handle_exit(sig, frame)
            return
        loop = self._loop
        if loop is None or not service.CURRENT or not self.started:
            super().handle_exit(sig, frame)
            return
        self._drain_started = True
        runtime = service.CURRENT[0]

        async def drain_then_exit() -> None:
            try:
                await runtime.drain()
            finally:
                uvicorn.Server.handle_exit(self, sig, frame)

        loop.call_soon_threadsafe(lambda: loop.create_task(drain_then_exit()))


def serve(host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    from runtime.config import Settings
    from runtime.migrate import upgrade

    if not os.environ.get("STARS_JWT_SECRET"):
        # Shared by every worker of this run; tokens from the CLI need an explicit STARS_JWT_SECRET.
        os.environ["STARS_JWT_SECRET"] = secrets.token_urlsafe(32)
        os.environ["STARS_GENERATED_SECRET"] = "1"
        print(
            "STARS_JWT_SECRET is not set: generated a random secret for this run.\n"
            f"  The demo page at http://{host}:{port}/ gets a demo token (loopback clients only).\n"
            "  For other clients set STARS_JWT_SECRET and mint tokens with:\n"
            "  python -m runtime token --sub NAME "
            "--subscribe 'room:*' --publish 'room:*'",
            flush=True,
        )
    settings = Settings.from_env()
    if settings.embedded_broker and workers > 1:
        log.warning("no STARS_REDIS_URL: the in-process broker cannot fan out across workers; using 1 worker")
        print("No STARS_REDIS_URL: running 1 worker (set STARS_REDIS_URL for --workers > 1).", flush=True)
        workers = 1
    upgrade(settings.database_url)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="stars-metrics-")
    config = uvicorn.Config(
        "runtime.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=settings.max_frame_bytes,
        lifespan="on",
        log_level=log_level,
        access_log=os.environ.get("STARS_ACCESS_LOG") == "1",
        timeout_graceful_shutdown=int(settings.drain_timeout) + 5,
        backlog=4096,
    )
    server = DrainingServer(config)
    if workers > 1:
        sock = config.bind_socket()
        Multiprocess(config, target=server.run, sockets=[sock]).run()
    else:
        server.run()
