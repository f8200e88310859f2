"""What the spec fixes outside the frames: backoff, close codes, token lifetimes, the token's transport."""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import quote

# Close codes after which reconnecting as is cannot help (runtime/protocol.py, ``reconnect=False``).
# 4401 is not here: it means "get a new token", which the client does before reconnecting.
NO_RECONNECT = frozenset({1002, 1007, 1009})
UNAUTHORIZED = 4401


def full_jitter(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0.0, min(cap, base * 2 ** min(attempt, 30)))


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (unix seconds), read without verifying: only to schedule a refresh."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
    except (IndexError, ValueError):
        return None


def refresh_at(exp: float, now: float, margin: float) -> float:
    """When to fetch the next token: ``margin`` seconds before expiry, or at half the remaining
    lifetime for tokens shorter than twice the margin."""
    remaining = exp - now
    return now + max(0.0, remaining - min(margin, remaining / 2))


def socket_protocols(token: str) -> list[str]:
    """The token's transport, in one place: the ``Sec-WebSocket-Protocol`` pair ``bearer, <token>`` (the
    server answers ``bearer``), so the token never appears in a URL or a proxy's log."""
    return ["bearer", token]


def socket_url(base: str, token: str) -> str:
    """The URL form (``/ws?token=…``), which servers still accept; the client itself uses the header."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}token={quote(token, safe='')}"


def http_base(ws_url: str) -> str:
    """``ws://host:port/ws`` → ``http://host:port`` (the REST API on the same server)."""
    scheme, rest = ws_url.split("://", 1)
    host = rest.split("/", 1)[0].split("?", 1)[0]
    return ("https" if scheme == "wss" else "http") + "://" + host
