"""Signed tokens (JWT, HS256) that say who a client is and which channels it may use."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TypeGuard

import jwt

ALGORITHM = "HS256"
ISSUER = (
    "stars-runtime"  # the default `iss` (STARS_JWT_ISSUER): a token signed for another service is refused
)
MAX_TTL = 24 * 3600  # the default longest lifetime of a token (STARS_TOKEN_MAX_TTL), seconds
LEEWAY = 60  # seconds of clock difference between the host that signs and the one that verifies
# Channel names: no glob characters, so a name can never widen a token's patterns. Matched with
# fullmatch: "$" would also match before a final newline ("room:x\n" was a channel of its own).
CHANNEL_RE = re.compile(r"[A-Za-z0-9_\-:.@/]{1,128}")


class AuthError(Exception):
    """The token is missing, malformed, badly signed or expired."""


def valid_channel(name: object) -> TypeGuard[str]:
    return isinstance(name, str) and CHANNEL_RE.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    exp: float
    subscribe: tuple[str, ...]
    publish: tuple[str, ...]

    def may_subscribe(self, channel: str) -> bool:
        return any(fnmatchcase(channel, p) for p in self.subscribe)

    def may_publish(self, channel: str) -> bool:
        return any(fnmatchcase(channel, p) for p in self.publish)


def issue(
    secret: str,
    sub: str,
    subscribe: list[str] | tuple[str, ...] = (),
    publish: list[str] | tuple[str, ...] = (),
    ttl: int = 3600,
    issuer: str = ISSUER,
) -> str:
    now = int(time.time())
    payload = {
        "iss": issuer,
        "sub": sub,
        "iat": now,
        "exp": now + ttl,
        "subscribe": list(subscribe),
        "publish": list(publish),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def _patterns(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise AuthError("subscribe/publish claims must be lists of strings")
    return tuple(value)


def verify(secret: str, token: str | None, issuer: str = ISSUER, max_ttl: int = MAX_TTL) -> Claims:
    """The token's claims if it is signed with ``secret``, issued by ``issuer``, not expired and not
    valid for longer than ``max_ttl`` seconds from now (nor from its ``iat``): a leaked long-lived
    token is a standing credential."""
    if not token:
        raise AuthError("missing token")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(str(exc)) from None
    exp, iat = payload["exp"], payload.get("iat")
    if exp - time.time() > max_ttl + LEEWAY or (
        isinstance(iat, int | float) and not isinstance(iat, bool) and exp - iat > max_ttl
    ):
        raise AuthError(f"token lifetime longer than {max_ttl} s")
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        raise AuthError("sub claim must be a non-empty string")
    return Claims(
        sub=sub,
        exp=float(payload["exp"]),
        subscribe=_patterns(payload.get("subscribe")),
        publish=_patterns(payload.get("publish")),
    )
