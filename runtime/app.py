"""The Starlette application: WebSocket endpoint, REST API, health, metrics and the demo page."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette import status
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from runtime import auth, gctune, metrics, protocol
from runtime.config import STATIC_DIR, Settings
from runtime.endpoint import WebSocketEndpoint
from runtime.origin import SAFE_METHODS, OriginPolicy, loopback_host
from runtime.rest import RestApi, error_response
from runtime.server import install_drain_handler
from runtime.service import Runtime

log = logging.getLogger("runtime")
CLIENT_JS = STATIC_DIR.parents[1] / "clients" / "js" / "stars.js"


def _loopback_client(request: Request) -> bool:
    try:
        return ipaddress.ip_address(request.client.host if request.client else "").is_loopback
    except ValueError:
        return False


def create_app(settings: Settings | None = None) -> RuntimeApp:
    settings = settings or Settings.from_env()
    rt = Runtime(settings)
    routes = [*RestApi(rt).routes(), *_operations(rt), *_pages(settings)]
    app = Starlette(routes=routes, lifespan=_lifespan(rt))
    app.state.runtime = rt
    return RuntimeApp(app, WebSocketEndpoint(rt), OriginPolicy(settings.allowed_origins))


def _operations(rt: Runtime) -> list[Route]:
    """Liveness, readiness (503 while draining or when the database or broker does not answer), metrics."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        if rt.draining:
            return JSONResponse({"status": "draining"}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        checks = await rt.ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", **checks},
            status_code=status.HTTP_200_OK if ok else status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    async def metrics_endpoint(request: Request) -> Response:
        if not (rt.settings.metrics_public or _loopback_client(request)):
            return error_response(
                protocol.REST_NOT_FOUND, "metrics are served to loopback clients (or STARS_METRICS_PUBLIC=1)"
            )
        body, content_type = metrics.render(rt.settings.metrics_dir)
        return Response(body, media_type=content_type)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics_endpoint)]


def _pages(settings: Settings) -> list[Route]:
    """The demo page, its token (local runs only) and the JavaScript client."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-store"})

    async def client_js(request: Request) -> Response:
        """The JavaScript client (clients/js/), at a stable path for pages served from here."""
        if not CLIENT_JS.is_file():
            return error_response(
                protocol.REST_NOT_FOUND, "the JavaScript client is not installed next to the runtime"
            )
        return FileResponse(CLIENT_JS, media_type="text/javascript", headers={"cache-control": "no-cache"})

    async def demo_token(request: Request) -> Response:
        """A short-lived token for the demo page, only for a local run with a generated secret."""
        # Host too: a page on another name that DNS-rebinds to 127.0.0.1 comes from loopback as well.
        if not (
            settings.secret_generated
            and _loopback_client(request)
            and loopback_host(request.headers.get("host"))
        ):
            return error_response(
                protocol.REST_NOT_FOUND,
                "demo tokens are only issued on loopback (client and Host) with a generated secret",
            )
        token = auth.issue(
            settings.jwt_secret,
            "demo-" + request.headers.get("x-demo-user", "guest")[:32],
            subscribe=["demo:*"],
            publish=["demo:*"],
            ttl=3600,
            issuer=settings.jwt_issuer,
        )
        return JSONResponse({"token": token})

    return [Route("/demo/token", demo_token), Route("/", index), Route("/client/stars.js", client_js)]


def _lifespan(rt: Runtime) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[dict[str, Any]]]:
    """Start-up and shut-down of the worker's runtime, its drain handler and its garbage-collector policy."""
    settings = rt.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if settings.gc_trace:
            gctune.install_trace(settings.gc_trace)
        await rt.start()
        if threading.current_thread() is threading.main_thread():
            install_drain_handler(rt)
        freezer = gctune.GcFreezer(rt.connection_count, rt.closed_count) if settings.gc_freeze else None
        if freezer is not None:
            freezer.start()
        try:
            yield {"runtime": rt}
        finally:
            if freezer is not None:
                await freezer.stop()
            await rt.stop()

    return lifespan


class RuntimeApp:
    """Top-level ASGI app: ``/ws`` goes straight to the WebSocket endpoint, so that it receives the
    server's own ``send`` and can write pre-encoded frames directly (``runtime.wire``); everything
    else, lifespan included, goes through Starlette."""

    def __init__(self, starlette: Starlette, websocket: WebSocketEndpoint, origins: OriginPolicy) -> None:
        self.starlette = starlette
        self.websocket = websocket
        self.origins = origins
        self.state = starlette.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind == "websocket" or (kind == "http" and scope["method"] not in SAFE_METHODS)) and not (
            self._origin_allowed(scope)
        ):
            await _forbidden_origin(kind, receive, send)
        elif kind == "websocket" and scope["path"] == "/ws":
            await self.websocket(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)

    def _origin_allowed(self, scope: Scope) -> bool:
        origin = host = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
        return self.origins.allows(origin, host)


_FORBIDDEN_ORIGIN_BODY = json.dumps(
    {"error": protocol.REST_FORBIDDEN_ORIGIN.code, "message": "Origin not allowed (STARS_ALLOWED_ORIGINS)"},
    separators=(",", ":"),
).encode()


async def _forbidden_origin(kind: str, receive: Receive, send: Send) -> None:
    """HTTP 403 for a browser page of another site: a WebSocket handshake or a state-changing call."""
    body = _FORBIDDEN_ORIGIN_BODY
    code = protocol.REST_FORBIDDEN_ORIGIN.status
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if kind == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.http.response.start", "status": code, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": body})
