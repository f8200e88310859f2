"""permessage-deflate (RFC 7692) without context takeover: negotiated per connection, compressed per message.

Without context takeover on either side, a message's compressed bytes do not depend on the connection
that sends them, so a broadcast is compressed once per worker and the same frame goes to every
subscriber that negotiated the extension (``Deflater``), and no connection keeps a zlib stream between
messages: the memory per connection stays what it is without compression. A sender may leave any
message uncompressed (RSV1 clear), so small frames, where deflate saves nothing, go out as they are.

``negotiate`` reads what the client offered in ``Sec-WebSocket-Extensions``. It never raises: a header
it cannot parse, or an offer it cannot honour, means no compression for that connection, and the
handshake goes on exactly as without the setting.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.headers import build_extension, parse_extension

#: The window every message is compressed with. A client that limits the server's window below it
#: (``server_max_window_bits``) gets no compression rather than a stream of its own.
WINDOW_BITS = 15
MEM_LEVEL = 8  # zlib's default; the compressor lives for one message, so its memory is not per connection
LEVEL = 6  # zlib's default
MAX_HEADER_CHARS = 4096  # an offer longer than this is not parsed (the HTTP layer bounds headers too)
_TAIL = b"\x00\x00\xff\xff"


def _factory() -> ServerPerMessageDeflateFactory:
    return ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        compress_settings={"memLevel": MEM_LEVEL},
    )


def negotiate(values: Sequence[str]) -> tuple[str, PerMessageDeflate] | None:
    """The response header and the extension for the first permessage-deflate offer we can honour, or
    None (no compression) for anything else: no offer, a malformed header, unknown or repeated
    parameters, a server window below ``WINDOW_BITS``."""
    try:
        if sum(len(v) for v in values) > MAX_HEADER_CHARS:
            return None
        offers = [offer for value in values for offer in parse_extension(value)]
    except Exception:  # websockets' InvalidHeader family, or a value that is not a str
        return None
    factory = _factory()
    for name, params in offers:
        if name != factory.name:
            continue
        try:
            response, extension = factory.process_request_params(params, [])
        except Exception:  # NegotiationError, or a parameter value its parser refuses
            continue
        if extension.local_max_window_bits < WINDOW_BITS:
            continue
        return build_extension([(name, response)]), extension
    return None


def compress(payload: bytes) -> bytes:
    """One message's payload, deflated on its own (no context carried over), with the 4-byte tail of the
    sync flush removed as RFC 7692 section 7.2.1 asks."""
    c = zlib.compressobj(LEVEL, zlib.DEFLATED, -WINDOW_BITS, MEM_LEVEL)
    data = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4] if data.endswith(_TAIL) else data


def _payload_of(frame: bytes) -> bytes:
    """The payload of an unmasked, unfragmented server frame (``runtime.wire.text_frame``)."""
    n = frame[1] & 0x7F
    return frame[2 + (2 if n == 126 else 8 if n == 127 else 0) :]


def deflated_frame(frame: bytes, min_bytes: int) -> bytes:
    """``frame`` as a compressed frame (RSV1 set), or ``frame`` itself when its payload is under
    ``min_bytes`` or deflate does not make it smaller."""
    payload = _payload_of(frame)
    if len(payload) < min_bytes:
        return frame
    data = compress(payload)
    n = len(data)
    if n >= len(payload):
        return frame
    first = frame[0] | 0x40  # RSV1: this message is compressed
    if n < 126:
        return bytes((first, n)) + data
    if n < 65536:
        return struct.pack("!BBH", first, 126, n) + data
    return struct.pack("!BBQ", first, 127, n) + data


class Deflater:
    """Compresses each frame once per worker for every connection that negotiated deflate.

    The hub hands the same frame object to every subscriber of a broadcast; the first connection with
    deflate compresses it and the others get the cached result (one entry: the frame being fanned out).
    """

    __slots__ = ("_frame", "_out", "min_bytes")

    def __init__(self, min_bytes: int) -> None:
        self.min_bytes = min_bytes
        self._frame: bytes | None = None
        self._out = b""

    def frame(self, frame: bytes) -> bytes:
        if frame is self._frame:
            return self._out
        out = deflated_frame(frame, self.min_bytes)
        self._frame, self._out = frame, out
        return out
