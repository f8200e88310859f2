"""Frames from the server, checked before they touch any state: a frame that is not what
runtime/protocol.py defines becomes an ``error`` event (``bad_server_frame`` or ``unknown_frame``),
never an exception in the reader and never a half-applied change."""

from __future__ import annotations

import json
from typing import Any


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def _offset(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _ref(value: object) -> bool:
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))


# Each server frame type and the check its fields must pass (runtime/README.md, server → client).
CHECKS: dict[str, Any] = {
    "message": lambda f: isinstance(f.get("channel"), str) and _offset(f.get("offset")) and "data" in f,
    "subscribed": lambda f: isinstance(f.get("channel"), str) and _offset(f.get("offset")),
    "unsubscribed": lambda f: isinstance(f.get("channel"), str),
    "ack": lambda f: _ref(f.get("id")) and isinstance(f.get("channel"), str) and _offset(f.get("offset")),
    "pong": lambda f: True,
    "error": lambda f: (
        isinstance(f.get("code"), str) and isinstance(f.get("message"), str) and _ref(f.get("id"))
    ),
}


def parse_frame(raw: str | bytes) -> dict[str, Any]:
    """A server frame as a dict whose fields have the documented types; FrameError otherwise."""
    if isinstance(raw, bytes):
        raise FrameError("bad_server_frame", "binary frame from the server (the protocol is JSON text)")
    try:
        frame = _decode(raw)
    except (ValueError, RecursionError) as exc:
        raise FrameError("bad_server_frame", f"frame from the server is not JSON: {exc}") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_server_frame", "frame from the server is not an object with a type")
    check = CHECKS.get(frame["type"])
    if check is None:
        raise FrameError("unknown_frame", f"unknown frame type from the server: {frame['type'][:40]!r}")
    if not check(frame):
        raise FrameError("bad_server_frame", f"{frame['type']} frame with missing or mistyped fields")
    return frame
