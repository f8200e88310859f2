"""The WebSocket protocol in one place: every frame, error code and close code, and what a client does.

Incoming text frames are parsed once here (``parse``) into one typed command each (``Subscribe``,
``Unsubscribe``, ``Publish``, ``Ping``), on whose type the connection dispatches; every outgoing frame
is built here (``message``, ``ack``, ``subscribed``, ``unsubscribed``, ``pong``, ``error``), and so
is every REST error code (``REST_ERRORS``). The tables (``CLIENT_FRAMES``, ``SERVER_FRAMES``,
``ERRORS``, ``REST_ERRORS``, ``CLOSES``) are what runtime/README.md documents, and a test keeps the
two equal. JSON is strict both ways: NaN and Infinity are refused,
text must be valid Unicode (no lone surrogates), nesting is limited to ``MAX_DEPTH``, and integers
that reach the database must fit its 64-bit columns; so nothing is stored or acknowledged that cannot
be sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runtime.auth import valid_channel

MAX_DEPTH = 64  # nesting of arrays and objects in a frame (the frame's own object counts as one)
MAX_OFFSET = 2**63 - 1  # offsets are PostgreSQL BIGINTs
MAX_ID_CHARS = 64


# -- close codes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloseCode:
    code: int
    meaning: str
    client_should: str
    reconnect: bool  # may the client reconnect as it is (with the same token and frames)?


GOING_AWAY = CloseCode(
    1001, "server draining (SIGTERM, scale-in)", "reconnect (another server) and resume with `since`", True
)
PROTOCOL_ERROR = CloseCode(
    1002,
    "a frame that breaks RFC 6455 (sent by the WebSocket layer)",
    "fix the client; do not reconnect",
    False,
)
INVALID_UTF8 = CloseCode(
    1007, "a text frame that is not valid UTF-8 (sent by the WebSocket layer)", "send UTF-8 text", False
)
TOO_BIG = CloseCode(
    1009,
    "frame larger than `STARS_MAX_FRAME_BYTES` (sent by the WebSocket layer)",
    "send smaller frames",
    False,
)
KEEPALIVE_TIMEOUT = CloseCode(
    1011,
    "no pong to the server's keepalive ping within `STARS_WS_PING_TIMEOUT`"
    " (browsers answer pings by themselves)",
    "reconnect and resume with `since`",
    True,
)
RESTARTING = CloseCode(
    1012,
    "server stopping: the socket was still open when `STARS_DRAIN_TIMEOUT` ran out",
    "reconnect and resume with `since`",
    True,
)
SLOW_CONSUMER = CloseCode(
    4008, "slow consumer: outgoing queue bound exceeded", "reconnect and resume with `since`", True
)
UNAUTHORIZED = CloseCode(4401, "token expired during the connection", "get a new token", False)

CLOSES: tuple[CloseCode, ...] = (
    GOING_AWAY,
    PROTOCOL_ERROR,
    INVALID_UTF8,
    TOO_BIG,
    KEEPALIVE_TIMEOUT,
    RESTARTING,
    SLOW_CONSUMER,
    UNAUTHORIZED,
)


# -- error codes (error frames; the connection stays open) -------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    when: str
    client_should: str


BAD_JSON = ErrorCode("bad_json", "the frame is not JSON (NaN and Infinity are not JSON)", "fix the frame")
BAD_FRAME = ErrorCode(
    "bad_frame",
    "not an object, binary frame, nested deeper than 64 levels, bad `id`, bad `since`, publish without"
    " `data`, or `data` with a number that is not finite or text that is not valid Unicode",
    "fix the frame",
)
UNKNOWN_TYPE = ErrorCode("unknown_type", "`type` is not one of the four client frames", "fix the frame")
BAD_CHANNEL = ErrorCode("bad_channel", "missing or invalid channel name", "fix the channel name")
FORBIDDEN = ErrorCode("forbidden", "the token's patterns do not allow this channel", "get a token that does")
ALREADY_SUBSCRIBED = ErrorCode("already_subscribed", "subscribe to a channel already subscribed", "nothing")
NOT_SUBSCRIBED = ErrorCode("not_subscribed", "unsubscribe from a channel not subscribed", "nothing")
TOO_MANY_SUBSCRIPTIONS = ErrorCode(
    "too_many_subscriptions", "more than `STARS_MAX_SUBSCRIPTIONS` on one connection", "unsubscribe first"
)
RATE_LIMITED = ErrorCode(
    "rate_limited",
    "publishes above `STARS_PUBLISH_RATE` (token bucket of `STARS_PUBLISH_BURST`)",
    "slow down; the message was not stored",
)
UNAVAILABLE = ErrorCode(
    "unavailable", "the database is unreachable: nothing was stored, nothing acknowledged", "retry later"
)
INTERNAL = ErrorCode("internal", "a bug; logged on the server", "report it")

ERRORS: tuple[ErrorCode, ...] = (
    BAD_JSON,
    BAD_FRAME,
    UNKNOWN_TYPE,
    BAD_CHANNEL,
    FORBIDDEN,
    ALREADY_SUBSCRIBED,
    NOT_SUBSCRIBED,
    TOO_MANY_SUBSCRIPTIONS,
    RATE_LIMITED,
    UNAVAILABLE,
    INTERNAL,
)

# -- REST error codes (the ``error`` of a JSON error body) -------------------------------------------


@dataclass(frozen=True, slots=True)
class RestError:
    code: str
    status: int
    when: str


REST_UNAUTHORIZED = RestError("unauthorized", 401, "missing, invalid or expired token")
REST_FORBIDDEN = RestError(FORBIDDEN.code, 403, FORBIDDEN.when)
REST_FORBIDDEN_ORIGIN = RestError(
    "forbidden_origin",
    403,
    "a browser page of another origin (`STARS_ALLOWED_ORIGINS`), on a WebSocket"
    " handshake or a method other than GET, HEAD and OPTIONS",
)
REST_BAD_CHANNEL = RestError(BAD_CHANNEL.code, 400, "invalid channel name in the path")
REST_BAD_JSON = RestError(BAD_JSON.code, 400, "the body is not JSON (NaN and Infinity are not JSON)")
REST_BAD_FRAME = RestError(
    BAD_FRAME.code,
    400,
    'the body is not `{"data": ...}`, is nested deeper than 64 levels, or its data has a number that is'
    " not finite or text that is not valid Unicode",
)
REST_BAD_REQUEST = RestError(
    "bad_request", 400, "`since` or `limit` out of range or not an integer, or a malformed `Content-Length`"
)
REST_NOT_FOUND = RestError(
    "not_found",
    404,
    "`/metrics` off loopback, `/demo/token` off loopback or with a configured secret,"
    " or the JavaScript client not installed",
)
REST_TOO_LARGE = RestError("too_large", 413, "body larger than `STARS_MAX_FRAME_BYTES`")
REST_RATE_LIMITED = RestError(RATE_LIMITED.code, 429, RATE_LIMITED.when)
REST_UNAVAILABLE = RestError(
    UNAVAILABLE.code, 503, "the database (for presence: Redis) is unreachable: nothing was stored"
)
REST_INTERNAL = RestError(INTERNAL.code, 500, INTERNAL.when)

REST_ERRORS: tuple[RestError, ...] = (
    REST_UNAUTHORIZED,
    REST_FORBIDDEN,
    REST_FORBIDDEN_ORIGIN,
    REST_BAD_CHANNEL,
    REST_BAD_JSON,
    REST_BAD_FRAME,
    REST_BAD_REQUEST,
    REST_NOT_FOUND,
    REST_TOO_LARGE,
    REST_RATE_LIMITED,
    REST_UNAVAILABLE,
    REST_INTERNAL,
)


def rest_error_of(error: ErrorCode) -> RestError:
    """The REST counterpart of a frame's error code (a body refused by ``loads``: bad_json, bad_frame)."""
    return next(e for e in REST_ERRORS if e.code == error.code)


# -- frames ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrameSpec:
    type: str
    shape: str
    meaning: str


CLIENT_FRAMES: tuple[FrameSpec, ...] = (
    FrameSpec(
        "subscribe",
        '{"type":"subscribe","channel":C,"since":N?}',
        "live messages after the current offset, or replay `> N` first",
    ),
    FrameSpec("unsubscribe", '{"type":"unsubscribe","channel":C}', "stop"),
    FrameSpec(
        "publish",
        '{"type":"publish","channel":C,"data":ANY,"id":REF?}',
        "store and broadcast; `ack` when committed",
    ),
    FrameSpec("ping", '{"type":"ping"}', "`pong`"),
)
SERVER_FRAMES: tuple[FrameSpec, ...] = (
    FrameSpec(
        "subscribed",
        '{"type":"subscribed","channel":C,"offset":LATEST}',
        "live delivery continues after `LATEST`",
    ),
    FrameSpec("unsubscribed", '{"type":"unsubscribed","channel":C}', ""),
    FrameSpec(
        "message",
        '{"type":"message","channel":C,"offset":N,"data":ANY}',
        "in offset order, no gaps, no duplicates",
    ),
    FrameSpec(
        "ack",
        '{"type":"ack","id":REF,"channel":C,"offset":N}',
        "the publish is committed (`id` is null if none was sent)",
    ),
    FrameSpec("pong", '{"type":"pong"}', ""),
    FrameSpec(
        "error",
        '{"type":"error","code":CODE,"message":TEXT,"id":REF?}',
        "the frame was rejected; the connection stays open",
    ),
)


class ProtocolError(Exception):
    """A frame (or REST body) the server refuses: becomes an ``error`` frame, or HTTP 400."""

    def __init__(self, error: ErrorCode, message: str, ref: Any = None) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.ref = ref


Ref = str | int | None  # a client's ``id``: echoed in ``ack`` and ``error`` (booleans pass as integers)


@dataclass(frozen=True, slots=True)
class Invalid:
    """A field that is present but cannot be used (a bad ``since``, ``data`` that cannot be stored).

    The parser does not refuse the frame for it: the connection reports it as ``bad_frame`` when it
    reaches that check, after the token's permission (and, for ``data``, the rate limit), which is the
    order of error codes clients have always seen."""

    reason: str

    def refusal(self, ref: Ref) -> ProtocolError:
        return ProtocolError(BAD_FRAME, self.reason, ref)


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Subscribe:
    channel: str
    ref: Ref
    since: int | Invalid | None  # None: live only; else replay offsets > since first


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    channel: str
    ref: Ref


@dataclass(frozen=True, slots=True)
class Publish:
    channel: str
    ref: Ref
    data: str | Invalid | None  # the data as the JSON text to store (and splice into frames); None: absent


Command = Ping | Subscribe | Unsubscribe | Publish
NO_DATA = "publish needs data"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _depth(value: Any) -> int:
    """Nesting of arrays and objects, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in items if isinstance(child, dict | list))
    return deepest


def loads(text: str | bytes) -> Any:
    """Strict JSON: ProtocolError (bad_json or bad_frame) for what is not JSON or is nested too deeply.
    Bytes (a REST body) are decoded as ``json.loads`` decodes them (UTF-8, or UTF-16/32 by their BOM)."""
    try:
        if isinstance(text, bytes):
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        value = _decoder.decode(text)
    except RecursionError:
        raise ProtocolError(BAD_FRAME, f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise ProtocolError(BAD_JSON, f"frame is not valid JSON ({exc})") from None
    if (
        isinstance(value, dict | list)
        and text.count("[") + text.count("{") > MAX_DEPTH  # cheap; only then is the value walked
        and _depth(value) > MAX_DEPTH
    ):
        raise ProtocolError(BAD_FRAME, f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _valid_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _ref_of(frame: dict[str, Any]) -> Ref:
    ref = frame.get("id")
    if ref is not None and not (
        (isinstance(ref, int) and len(str(ref)) <= MAX_ID_CHARS)  # true and false too, as before
        or (isinstance(ref, str) and len(ref) <= MAX_ID_CHARS and _valid_text(ref))
    ):
        raise ProtocolError(
            BAD_FRAME, "id must be a string or integer of at most 64 characters (valid Unicode)"
        )
    return ref


def _since_of(frame: dict[str, Any]) -> int | Invalid | None:
    since = frame.get("since")
    if since is not None and (
        not isinstance(since, int) or isinstance(since, bool) or not 0 <= since <= MAX_OFFSET
    ):
        return Invalid("since must be an integer from 0 to 2**63-1")
    return since


def _data_of(frame: dict[str, Any]) -> str | Invalid | None:
    if "data" not in frame:
        return None
    try:
        return encode_data(frame["data"])
    except ValueError as exc:
        return Invalid(str(exc))


def parse(text: str) -> Command:
    """A client text frame, parsed once into its command; ProtocolError for a frame that is refused
    whatever the connection's state (not JSON, not an object, a bad ``id``, type or channel)."""
    frame = loads(text)
    if not isinstance(frame, dict):
        raise ProtocolError(BAD_FRAME, "frame must be a JSON object")
    ref = _ref_of(frame)
    kind = frame.get("type")
    if kind == "ping":
        return Ping()
    if kind not in ("publish", "subscribe", "unsubscribe"):
        shown = repr(kind) if not isinstance(kind, dict | list) else type(kind).__name__
        raise ProtocolError(UNKNOWN_TYPE, f"unknown frame type {shown[:80]}", ref)
    channel = frame.get("channel")
    if not valid_channel(channel):
        raise ProtocolError(BAD_CHANNEL, "channel must match [A-Za-z0-9_-:.@/]{1,128}", ref)
    if kind == "publish":
        return Publish(channel, ref, _data_of(frame))
    if kind == "subscribe":
        return Subscribe(channel, ref, _since_of(frame))
    return Unsubscribe(channel, ref)


def encode_data(data: object) -> str:
    """Compact JSON text of a message's data, as stored and sent; ValueError naming what is wrong
    (a number that is not finite, or a lone surrogate that UTF-8 cannot carry)."""
    try:
        text = _encode(data)
    except ValueError:
        raise ValueError("data: numbers must be finite (NaN and Infinity are not JSON)") from None
    if not _valid_text(text):
        raise ValueError("data must be valid Unicode text (no lone surrogates)")
    return text


# -- outgoing frames ---------------------------------------------------------------------------------


def message(channel: str, offset: int, data: str) -> str:
    """The one encoding of a message, shared by live delivery and replay: ``data`` is stored JSON text
    and channel names need no escaping, so the frame is spliced, not encoded."""
    return f'{{"type":"message","channel":"{channel}","offset":{offset},"data":{data}}}'


def ack(ref: Any, channel: str, offset: int) -> str:
    return _encode({"type": "ack", "id": ref, "channel": channel, "offset": offset})


def subscribed(channel: str, offset: int) -> str:
    return _encode({"type": "subscribed", "channel": channel, "offset": offset})


def unsubscribed(channel: str) -> str:
    return _encode({"type": "unsubscribed", "channel": channel})


PONG = '{"type":"pong"}'


def error(code: ErrorCode, text: str, ref: Any = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code.code, "message": text}
    if ref is not None:
        frame["id"] = ref
    return _encode(frame)
