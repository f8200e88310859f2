"""The Starlette application: WebSocket endpoint, REST API, health, metrics and the demo page."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from runtime import auth, gctune, metrics, protocol
from runtime.config import STATIC_DIR, Settings
from runtime.endpoint import WebSocketEndpoint
from runtime.limits import BadLength, BodyTooLarge, read_body
from runtime.origin import SAFE_METHODS, OriginPolicy, loopback_host
from runtime.server import install_drain_handler
from runtime.service import Runtime
from runtime.store import StoreUnavailable

log = logging.getLogger("runtime")
CLIENT_JS = STATIC_DIR.parents[1] / "clients" / "js" / "stars.js"


def _error(
    status: int, code: str | protocol.ErrorCode, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error body: the WebSocket protocol's code where one fits (runtime.protocol), else an HTTP one."""
    name = code.code if isinstance(code, protocol.ErrorCode) else code
    return JSONResponse({"error": name, "message": message}, status_code=status, headers=headers)


def _loopback_client(request: Request) -> bool:
    try:
        return ipaddress.ip_address(request.client.host if request.client else "").is_loopback
    except ValueError:
        return False


def create_app(settings: Settings | None = None) -> RuntimeApp:
    settings = settings or Settings.from_env()
    rt = Runtime(settings)

    def claims_of(request: Request) -> auth.Claims | JSONResponse:
        header = request.headers.get("authorization", "")
        token = header[7:] if header[:7].lower() == "bearer " else None
        try:
            return auth.verify(settings.jwt_secret, token, settings.jwt_issuer, settings.token_max_ttl)
        except auth.AuthError as exc:
            return _error(401, "unauthorized", str(exc))

    def channel_of(request: Request) -> str | JSONResponse:
        channel = request.path_params["channel"]
        return (
            channel
            if auth.valid_channel(channel)
            else _error(400, protocol.BAD_CHANNEL, "invalid channel name")
        )

    def authorized(request: Request, *, publish: bool, verb: str) -> tuple[str, auth.Claims] | JSONResponse:
        """The request's channel and token, if the token may publish on it (or subscribe to it: read, see)."""
        claims = claims_of(request)
        if isinstance(claims, Response):
            return claims
        channel = channel_of(request)
        if isinstance(channel, Response):
            return channel
        allowed = claims.may_publish(channel) if publish else claims.may_subscribe(channel)
        return (
            (channel, claims)
            if allowed
            else _error(403, protocol.FORBIDDEN, f"token may not {verb} {channel}")
        )

    async def publish(request: Request) -> Response:
        checked = authorized(request, publish=True, verb="publish on")
        if isinstance(checked, Response):
            return checked
        channel, claims = checked
        if not rt.limiter.allow(claims.sub):
            return _error(
                429,
                protocol.RATE_LIMITED,
                f"at most {settings.publish_rate:g} publishes/s per token subject; not stored",
                {"retry-after": "1"},
            )
        try:
            body = await read_body(
                request.headers.get("content-length"), request.stream(), settings.max_frame_bytes
            )
        except BodyTooLarge:  # the rest of the body is not read: the connection is closed after this
            return _error(
                413,
                "too_large",
                f"body larger than {settings.max_frame_bytes} bytes",
                {"connection": "close"},
            )
        except BadLength as exc:
            return _error(400, "bad_request", str(exc), {"connection": "close"})
        try:
            payload = protocol.loads(body)
        except protocol.ProtocolError as exc:
            return _error(
                400,
                exc.error.code,
                "body is not valid JSON" if exc.error is protocol.BAD_JSON else exc.message,
            )
        if not isinstance(payload, dict) or "data" not in payload:
            return _error(400, protocol.BAD_FRAME, 'body must be {"data": ...}')
        try:
            data = protocol.encode_data(payload["data"])
        except ValueError as exc:
            return _error(400, protocol.BAD_FRAME, str(exc))
        try:
            offset = await rt.hub.publish(channel, data)
        except StoreUnavailable:
            return _error(503, protocol.UNAVAILABLE, "database unavailable; message not stored, retry later")
        metrics.MESSAGES_IN.labels("rest").inc()
        return JSONResponse({"channel": channel, "offset": offset}, status_code=201)

    async def history(request: Request) -> Response:
        checked = authorized(request, publish=False, verb="read")
        if isinstance(checked, Response):
            return checked
        channel = checked[0]
        try:
            since = int(request.query_params.get("since", "0"))
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return _error(400, "bad_request", "since and limit must be integers")
        if not 0 <= since <= protocol.MAX_OFFSET or not 1 <= limit <= settings.history_limit:
            return _error(
                400, "bad_request", f"0 <= since <= 2**63-1 and 1 <= limit <= {settings.history_limit}"
            )
        key = rt.cache.key(channel, since, limit)
        cached = await rt.cache.get(key)
        if cached is not None:
            return Response(cached, media_type="application/json", headers={"x-cache": "hit"})
        try:
            rows = await rt.store.fetch(channel, since, limit)
        except StoreUnavailable:
            return _error(503, protocol.UNAVAILABLE, "database unavailable")
        items = ",".join(
            f'{{"offset":{r.offset},"data":{r.data},"published_at":"{r.published_iso}"}}' for r in rows
        )
        body = f'{{"channel":"{channel}","messages":[{items}]}}'.encode()
        if len(rows) == limit:  # a full page is immutable
            await rt.cache.put(key, body)
        return Response(body, media_type="application/json", headers={"x-cache": "miss"})

    async def presence(request: Request) -> Response:
        checked = authorized(request, publish=False, verb="see")
        if isinstance(checked, Response):
            return checked
        channel = checked[0]
        try:
            users = await rt.presence.users(channel)
        except Exception:
            return _error(503, protocol.UNAVAILABLE, "presence store unavailable")
        return JSONResponse(
            {"channel": channel, "users": [{"sub": u, "connections": n} for u, n in sorted(users.items())]}
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        if rt.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        checks = await rt.ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", **checks}, status_code=200 if ok else 503
        )

    async def metrics_endpoint(request: Request) -> Response:
        if not (settings.metrics_public or _loopback_client(request)):
            return _error(
                404, "not_found", "metrics are served to loopback clients (or STARS_METRICS_PUBLIC=1)"
            )
        body, content_type = metrics.render(settings.metrics_dir)
        return Response(body, media_type=content_type)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-store"})

    async def client_js(request: Request) -> Response:
        """The JavaScript client (clients/js/), at a stable path for pages served from here."""
        if not CLIENT_JS.is_file():
            return _error(404, "not_found", "the JavaScript client is not installed next to the runtime")
        return FileResponse(CLIENT_JS, media_type="text/javascript", headers={"cache-control": "no-cache"})

    async def demo_token(request: Request) -> Response:
        """A short-lived token for the demo page, only for a local run with a generated secret."""
        # Host too: a page on another name that DNS-rebinds to 127.0.0.1 comes from loopback as well.
        if not (
            settings.secret_generated
            and _loopback_client(request)
            and loopback_host(request.headers.get("host"))
        ):
            return _error(
                404,
                "not_found",
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

    routes = [
        Route("/api/channels/{channel}/messages", publish, methods=["POST"]),
        Route("/api/channels/{channel}/messages", history, methods=["GET"]),
        Route("/api/channels/{channel}/presence", presence, methods=["GET"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        Route("/demo/token", demo_token),
        Route("/", index),
        Route("/client/stars.js", client_js),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.runtime = rt
    return RuntimeApp(app, WebSocketEndpoint(rt), OriginPolicy(settings.allowed_origins))


class RuntimeApp:
    """Top-level ASGI app: ``/ws`` goes straight to the WebSocket endpoint, so that it receives the
    server's own ``send`` and can write pre-encoded frames directly (``runtime.wire``); everything
    else, lifespan included, goes through Starlette."""

    def __init__(self, starlette: Starlette, websocket: WebSocketEndpoint, origins: OriginPolicy) -> None:
        self.starlette = starlette
        self.websocket = websocket
        self.origins = origins
        self.state = starlette.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if (kind == "websocket" or (kind == "http" and scope["method"] not in SAFE_METHODS)) and not (
            self._origin_allowed(scope)
        ):
            await _forbidden_origin(kind, receive, send)
        elif kind == "websocket" and scope["path"] == "/ws":
            await self.websocket(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)

    def _origin_allowed(self, scope: Any) -> bool:
        origin = host = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
        return self.origins.allows(origin, host)


async def _forbidden_origin(kind: str, receive: Any, send: Any) -> None:
    """HTTP 403 for a browser page of another site: a WebSocket handshake or a state-changing call."""
    body = b'{"error":"forbidden_origin","message":"Origin not allowed (STARS_ALLOWED_ORIGINS)"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if kind == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
