"""The one error type a caller sees: the protocol's code (runtime/protocol.py) or a client-side one."""

from __future__ import annotations

# Client-side codes (the server's own codes are runtime/README.md's error table).
BUFFER_FULL = "buffer_full"  # offline and the outgoing buffer is full: nothing was sent
TIMEOUT = "timeout"  # no ack within publish_timeout: stored or not, unknown if it had been sent
CONNECTION_LOST = "connection_lost"  # the socket closed after the publish was sent: outcome unknown
CLOSED = "closed"  # the client was closed (or a close code said do not reconnect)
TOO_LARGE = "too_large"  # the frame would exceed max_frame_bytes: nothing was sent
BAD_DATA = "bad_data"  # data is not strict JSON (NaN, Infinity): nothing was sent


class StarsError(Exception):
    """A rejected request: ``code`` is the protocol's error code (``forbidden``, ``rate_limited``, …)
    or one of the client-side codes above; ``status`` is the HTTP status for REST calls."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
