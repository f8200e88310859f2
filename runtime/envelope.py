"""The broker payload: what one worker tells the others, through the broker, about a committed message.

On the wire it is the text ``"<offset> <commit unix time> <message frame>"``, so a receiving worker
reads two numbers and never the JSON: the frame is the client ``message`` frame, encoded once by the
worker that committed it and written to sockets as it is. Every worker of a deployment speaks this
format (old and new ones side by side during a rolling restart), so it changes only with a new name
for the broker channels. A payload that is not one (a foreign publisher on the same Redis, a bug) is
refused with ``BadPayload``, never half-read.
"""

from __future__ import annotations

from typing import NamedTuple

from runtime.protocol import MAX_OFFSET

_OFFSET_DIGITS = len(str(MAX_OFFSET))
_FRAME_START = '{"type":"message",'  # how ``runtime.protocol.message`` begins


class BadPayload(ValueError):
    """A broker message that is not an envelope: the hub logs it and drops it."""


class Envelope(NamedTuple):
    """Immutable and typed; a named tuple rather than a frozen dataclass because one is made per message
    per worker on the delivery path, and a tuple is built in half the time."""

    offset: int
    stamp: float  # commit time, Unix seconds: the publish-to-delivery latency is measured from it
    frame: str  # the client ``message`` frame (``runtime.protocol.message``)


def encode(envelope: Envelope) -> str:
    return f"{envelope.offset} {envelope.stamp:.6f} {envelope.frame}"


def decode(payload: str | bytes) -> Envelope:
    """The envelope in ``payload``; BadPayload for anything else (what ``encode`` cannot produce)."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode()
        except UnicodeDecodeError:
            raise BadPayload("not UTF-8") from None
    parts = payload.split(" ", 2)
    if len(parts) != 3:
        raise BadPayload("not '<offset> <time> <frame>'")
    offset_s, stamp_s, frame = parts
    if not (offset_s.isdigit() and offset_s.isascii() and len(offset_s) <= _OFFSET_DIGITS):
        raise BadPayload("offset is not a decimal integer")
    offset = int(offset_s)
    if not 0 < offset <= MAX_OFFSET:
        raise BadPayload("offset out of range")
    try:
        stamp = float(stamp_s)
    except ValueError:
        raise BadPayload("time is not a number") from None
    if stamp - stamp != 0.0:  # NaN or an infinity
        raise BadPayload("time is not finite")
    if not (frame.startswith(_FRAME_START) and frame[-1:] == "}"):
        raise BadPayload("not a message frame")
    return Envelope(offset, stamp, frame)
