"""Which browser pages may act on this server (``Origin``), and which names reach the demo token
(``Host``, against DNS rebinding).

A browser sends ``Origin`` with every WebSocket handshake and every cross-site POST; a page on another
site must not open sockets or publish with the credentials the browser holds for ours. Clients that
are not browsers send no ``Origin`` and are not affected. ``STARS_ALLOWED_ORIGINS`` lists the origins
allowed besides the server's own (``*``: any); by default only the server's own: an ``Origin`` whose
host and port equal the request's ``Host`` (the scheme is not compared, so a page served over HTTPS
by a TLS-terminating load balancer to a plain-HTTP server counts as the same origin).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _host_port(netloc: str, default_port: int | None) -> tuple[str, int | None] | None:
    """``host[:port]`` lowercased, with the scheme's default port made explicit; None if malformed."""
    try:
        parts = urlsplit("//" + netloc)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path:
        return None
    return parts.hostname.lower(), port if port is not None else default_port


def normalize(origin: str) -> str | None:
    """``scheme://host:port`` of an Origin value, or None if it is not a serialized origin."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.path or parts.query or parts.fragment:
        return None
    hp = _host_port(parts.netloc, _DEFAULT_PORTS[scheme])
    return None if hp is None else f"{scheme}://{hp[0]}:{hp[1]}"


class OriginPolicy:
    """``allows(origin, host)``: no Origin (not a browser), the server's own, or a listed one."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.any = "*" in allowed
        listed = {normalize(o) for o in allowed if o != "*"}
        if None in listed:
            bad = [o for o in allowed if o != "*" and normalize(o) is None]
            raise ValueError(f"STARS_ALLOWED_ORIGINS: not an origin (scheme://host[:port]): {bad}")
        self.listed = frozenset(o for o in listed if o)

    def allows(self, origin: str | None, host: str | None) -> bool:
        if origin is None or self.any:
            return True
        own = normalize(origin)
        if own is None:  # "null" (sandboxed pages, file:), or garbage
            return False
        if own in self.listed:
            return True
        if not host:
            return False
        scheme, _, rest = own.partition("://")
        origin_hp = _host_port(rest, None)
        request_hp = _host_port(host, None)
        if origin_hp is None or request_hp is None or origin_hp[0] != request_hp[0]:
            return False
        if request_hp[1] is None:  # Host without a port: the request came on the scheme's default port
            return origin_hp[1] == _DEFAULT_PORTS[scheme]
        return origin_hp[1] == request_hp[1]


def loopback_host(host: str | None) -> bool:
    """The ``Host`` header names this machine (localhost or a loopback address): a page on another
    name that DNS-rebinds to 127.0.0.1 still sends its own name."""
    hp = _host_port(host or "", None)
    if hp is None:
        return False
    name = hp[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
