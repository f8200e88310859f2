"""Authentication at the WebSocket handshake: the token, its check, and the two refusals.

The token comes in ``Sec-WebSocket-Protocol: bearer, <JWT>`` (kept out of URLs and so out of access
logs), else in the URL's ``?token=`` (compatibility). A bad token is refused with HTTP 403, a draining
worker answers 503; an accepted connection keeps neither the token nor the scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette import status

from runtime import protocol
from runtime.auth import AuthError, Claims, verify

if TYPE_CHECKING:
    from runtime.config import Settings

BEARER = "bearer"  # offered subprotocols ``bearer, <JWT>``: the token; the server answers ``bearer``


def token_of(scope: Any) -> tuple[str | None, str | None]:
    """The token and the subprotocol to answer with: from ``Sec-WebSocket-Protocol: bearer, <JWT>``
    (kept out of URLs and so out of access logs), else from the URL's ``?token=`` (compatibility)."""
    offered = scope.get("subprotocols") or []
    if len(offered) >= 2 and offered[0] == BEARER:
        return offered[1], BEARER
    return parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0], None


def authenticate(scope: Any, settings: Settings) -> tuple[Claims, str | None] | None:
    """The token's claims and the subprotocol to accept with, or None if the token is refused."""
    token, subprotocol = token_of(scope)
    try:
        return verify(settings.jwt_secret, token, settings.jwt_issuer, settings.token_max_ttl), subprotocol
    except AuthError:
        return None


async def refuse_unauthorized(send: Any) -> None:
    """HTTP 403 at the handshake (a close before accept)."""
    await send({"type": "websocket.close", "code": protocol.UNAUTHORIZED.code})


async def refuse_draining(send: Any) -> None:
    """HTTP 503 at the handshake: the client retries, the load balancer sends it elsewhere."""
    headers = [(b"content-type", b"text/plain"), (b"retry-after", b"1")]
    await send(
        {
            "type": "websocket.http.response.start",
            "status": status.HTTP_503_SERVICE_UNAVAILABLE,
            "headers": headers,
        }
    )
    await send({"type": "websocket.http.response.body", "body": b"draining"})
