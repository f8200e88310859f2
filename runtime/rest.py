"""The REST API: publish, history and presence of a channel, with the token in ``Authorization``.

Every error body is ``{"error": CODE, "message": TEXT}`` with a code and status from
``runtime.protocol.REST_ERRORS``; a publish is the same durable commit as a WebSocket one, under the
same per-subject rate limit and the same strict JSON.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette import status
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime import auth, metrics, protocol
from runtime.limits import BadLength, BodyTooLarge, read_body
from runtime.protocol import RestError
from runtime.store import StoreUnavailable

if TYPE_CHECKING:
    from starlette.requests import Request

    from runtime.service import Runtime

log = logging.getLogger("runtime.rest")

# Redis (the presence store) is unavailable: refused, dropped or silent. Anything else is a bug.
PRESENCE_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)

Endpoint = Callable[["Request"], Awaitable[Response]]


def error_response(error: RestError, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error.code, "message": message}, status_code=error.status, headers=headers)


def _internal_on_bug(endpoint: Endpoint) -> Endpoint:
    """A bug in an endpoint is logged with its traceback; the client gets ``internal`` and no detail."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(protocol.REST_INTERNAL, "internal error")

    return guarded


class RestApi:
    """The three channel endpoints of one worker's runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.settings = rt.settings

    def routes(self) -> list[Route]:
        return [
            Route("/api/channels/{channel}/messages", _internal_on_bug(self.publish), methods=["POST"]),
            Route("/api/channels/{channel}/messages", _internal_on_bug(self.history), methods=["GET"]),
            Route("/api/channels/{channel}/presence", _internal_on_bug(self.presence), methods=["GET"]),
        ]

    def _claims_of(self, request: Request) -> auth.Claims | JSONResponse:
        header = request.headers.get("authorization", "")
        token = header[7:] if header[:7].lower() == "bearer " else None
        settings = self.settings
        try:
            return auth.verify(settings.jwt_secret, token, settings.jwt_issuer, settings.token_max_ttl)
        except auth.AuthError as exc:
            return error_response(protocol.REST_UNAUTHORIZED, str(exc))

    def _authorized(
        self, request: Request, *, publish: bool, verb: str
    ) -> tuple[str, auth.Claims] | Response:
        """The request's channel and token, if the token may publish on it (or subscribe to it: read, see)."""
        claims = self._claims_of(request)
        if isinstance(claims, Response):
            return claims
        channel = request.path_params["channel"]
        if not auth.valid_channel(channel):
            return error_response(protocol.REST_BAD_CHANNEL, "invalid channel name")
        allowed = claims.may_publish(channel) if publish else claims.may_subscribe(channel)
        if not allowed:
            return error_response(protocol.REST_FORBIDDEN, f"token may not {verb} {channel}")
        return channel, claims

    async def publish(self, request: Request) -> Response:
        checked = self._authorized(request, publish=True, verb="publish on")
        if isinstance(checked, Response):
            return checked
        channel, claims = checked
        if not self.rt.limiter.allow(claims.sub):
            return error_response(
                protocol.REST_RATE_LIMITED,
                f"at most {self.settings.publish_rate:g} publishes/s per token subject; not stored",
                {"retry-after": "1"},
            )
        data = await self._data_of(request)
        if isinstance(data, Response):
            return data
        try:
            offset = await self.rt.hub.publish(channel, data)
        except StoreUnavailable:
            return error_response(
                protocol.REST_UNAVAILABLE, "database unavailable; message not stored, retry later"
            )
        metrics.MESSAGES_IN.labels("rest").inc()
        return JSONResponse({"channel": channel, "offset": offset}, status_code=status.HTTP_201_CREATED)

    async def _data_of(self, request: Request) -> str | Response:
        """The body's ``data`` as the JSON text to store, read within the frame bound."""
        limit = self.settings.max_frame_bytes
        try:
            body = await read_body(request.headers.get("content-length"), request.stream(), limit)
        except BodyTooLarge:  # the rest of the body is not read: the connection is closed after this
            return error_response(
                protocol.REST_TOO_LARGE, f"body larger than {limit} bytes", {"connection": "close"}
            )
        except BadLength as exc:
            return error_response(protocol.REST_BAD_REQUEST, str(exc), {"connection": "close"})
        try:
            payload = protocol.loads(body)
        except protocol.ProtocolError as exc:
            not_json = exc.error is protocol.BAD_JSON
            message = "body is not valid JSON" if not_json else exc.message
            return error_response(protocol.rest_error_of(exc.error), message)
        if not isinstance(payload, dict) or "data" not in payload:
            return error_response(protocol.REST_BAD_FRAME, 'body must be {"data": ...}')
        try:
            return protocol.encode_data(payload["data"])
        except ValueError as exc:
            return error_response(protocol.REST_BAD_FRAME, str(exc))

    async def history(self, request: Request) -> Response:
        checked = self._authorized(request, publish=False, verb="read")
        if isinstance(checked, Response):
            return checked
        channel = checked[0]
        limit_max = self.settings.history_limit
        try:
            since = int(request.query_params.get("since", "0"))
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return error_response(protocol.REST_BAD_REQUEST, "since and limit must be integers")
        if not 0 <= since <= protocol.MAX_OFFSET or not 1 <= limit <= limit_max:
            return error_response(
                protocol.REST_BAD_REQUEST, f"0 <= since <= 2**63-1 and 1 <= limit <= {limit_max}"
            )
        cache = self.rt.cache
        key = cache.key(channel, since, limit)
        cached = await cache.get(key)
        if cached is not None:
            return Response(cached, media_type="application/json", headers={"x-cache": "hit"})
        try:
            rows = await self.rt.store.fetch(channel, since, limit)
        except StoreUnavailable:
            return error_response(protocol.REST_UNAVAILABLE, "database unavailable")
        items = ",".join(
            f'{{"offset":{r.offset},"data":{r.data},"published_at":"{r.published_iso}"}}' for r in rows
        )
        body = f'{{"channel":"{channel}","messages":[{items}]}}'.encode()
        if len(rows) == limit:  # a full page is immutable
            await cache.put(key, body)
        return Response(body, media_type="application/json", headers={"x-cache": "miss"})

    async def presence(self, request: Request) -> Response:
        checked = self._authorized(request, publish=False, verb="see")
        if isinstance(checked, Response):
            return checked
        channel = checked[0]
        try:
            users = await self.rt.presence.users(channel)
        except PRESENCE_UNAVAILABLE as exc:
            log.warning("presence store unavailable: %s", f"{type(exc).__name__}: {exc}")
            return error_response(protocol.REST_UNAVAILABLE, "presence store unavailable")
        return JSONResponse(
            {"channel": channel, "users": [{"sub": u, "connections": n} for u, n in sorted(users.items())]}
        )
