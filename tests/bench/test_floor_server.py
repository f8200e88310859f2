"""The floor server's parsers of outside input (the upgrade request, client frames, Redis replies), with
property-based fuzzing, and the server itself with two forked workers on real sockets and a real Redis."""

from __future__ import annotations

import asyncio
import json
import struct
import time

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import procs, wsproto
from bench.floor_server import (
    MAX_HEAD,
    FrameParser,
    RespError,
    RespReader,
    command,
    handshake,
    text_frame,
)
from bench.servers import RedisServer, free_port

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3's example: its accept is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=


def _request(path: str, **headers: str) -> bytes:
    base = {
        "Host": "h",
        "Upgrade": "websocket",
        "Connection": "keep-alive, Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    lines = "".join(f"{k}: {v}\r\n" for k, v in base.items() if v)
    return f"GET {path} HTTP/1.1\r\n{lines}\r\n".encode()


def test_the_upgrade_answers_the_rfc_example_and_never_offers_deflate() -> None:
    reply, route, channel = handshake(
        _request("/ws?channel=room%3A7", Sec_WebSocket_Extensions="permessage-deflate")
    )
    assert route == "ws" and channel == "room:7"
    assert (
        reply.startswith(b"HTTP/1.1 101 ") and b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in reply
    )
    assert b"Extensions" not in reply
    assert handshake(_request("/ws"))[1:] == ("ws", "chatroom")  # the baseline's default channel
    assert handshake(_request("/publish"))[1] == "publish"
    assert handshake(b"GET /healthz HTTP/1.1\r\n\r\n")[0].startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (_request("/nowhere"), b"404"),
        (_request("/ws", Sec_WebSocket_Key="c2hvcnQ="), b"400"),  # 5 bytes, not 16
        (_request("/ws", Sec_WebSocket_Key="not base64!!"), b"400"),
        (_request("/ws", Sec_WebSocket_Version="8"), b"400"),
        (_request("/ws", Upgrade=""), b"400"),
        (_request("/ws?channel=" + "x" * 300), b"400"),
        (_request("/ws").replace(b"GET", b"POST"), b"400"),
        (b"GET //[ HTTP/1.1\r\n\r\n", b"400"),
        (b"\xff\xfe garbage\r\n\r\n", b"400"),
        (b"GET /ws HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
    ],
)
def test_bad_upgrades_are_refused_with_a_status_and_no_route(head: bytes, status: bytes) -> None:
    reply, route, _ = handshake(head)
    assert route is None and reply.split(b" ")[1] == status


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=MAX_HEAD))
def test_any_request_head_gets_a_reply_and_no_exception(head: bytes) -> None:
    reply, route, channel = handshake(head)
    assert reply.startswith(b"HTTP/1.1 ")
    assert (route is None) == (not reply.startswith(b"HTTP/1.1 101 "))
    assert len(channel.encode()) <= 256


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.lists(st.integers(0, 10_000), max_size=6))
def test_masked_frames_come_out_whole_however_the_stream_is_cut(
    messages: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(wsproto.encode_frame(m, 1) for m in messages)
    parser = FrameParser(limit=1024)
    got = [m for chunk in _split(stream, cuts) for m in parser.feed(chunk)]
    assert got == [(1, m) for m in messages] and parser.error is None


def _frame(b0: int, payload: bytes) -> bytes:
    """A masked client frame with its first byte (FIN, RSV, opcode) as given."""
    return bytes([b0]) + wsproto.encode_frame(payload, 1)[1:]


def test_fragments_are_joined_and_control_frames_pass_between_them() -> None:
    parser = FrameParser()
    stream = _frame(0x01, b"he") + _frame(0x89, b"ping") + _frame(0x00, b"ll") + _frame(0x80, b"o")
    assert parser.feed(stream) == [(9, b"ping"), (1, b"hello")] and parser.error is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (bytes([0x81, 0x05]) + b"hello", 1002),  # not masked
        (bytes([0xC1, 0x80, 0, 0, 0, 0]), 1002),  # RSV1 without an agreed extension
        (bytes([0x83, 0x80, 0, 0, 0, 0]), 1002),  # reserved opcode
        (bytes([0x09, 0x80, 0, 0, 0, 0]), 1002),  # fragmented control frame
        (bytes([0x89, 0xFE, 0, 200]), 1002),  # control frame over 125 bytes
        (bytes([0x80, 0x80, 0, 0, 0, 0]), 1002),  # continuation with nothing to continue
        (bytes([0x88, 0x81, 0, 0, 0, 0, 1]), 1002),  # close with a one-byte code
        (bytes([0x81, 0xFF]) + struct.pack("!Q", 1 << 63), 1002),  # 64-bit length with the top bit
        (bytes([0x81, 0xFF]) + struct.pack("!Q", 1 << 40), 1009),  # refused before the payload comes
        (bytes([0x81, 0xFE]) + struct.pack("!H", 2000), 1009),
        (_frame(0x01, b"x" * 600) + _frame(0x80, b"y" * 600), 1009),  # fragments adding up past the limit
    ],
)  # fmt: skip
def test_protocol_violations_and_oversize_frames_set_a_close_code(data: bytes, code: int) -> None:
    parser = FrameParser(limit=1024)
    assert parser.feed(data) == []
    assert parser.error == code
    assert parser.feed(wsproto.encode_frame(b"after", 1)) == []  # nothing more is taken


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=2000), max_size=10))
def test_arbitrary_bytes_never_raise_and_the_buffer_stays_bounded(chunks: list[bytes]) -> None:
    parser = FrameParser(limit=1024)
    for chunk in chunks:
        for opcode, payload in parser.feed(chunk):
            assert opcode in (1, 2, 8, 9, 10)
            assert len(payload) <= 1024
        assert parser.error in (None, 1002, 1009)
        assert len(parser._buf) <= 1024 + 14 + len(chunk)


def test_redis_pushes_are_read_across_cuts() -> None:
    stream = (
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n"
        + b"*3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$5\r\nhe\r\no\r\n"
    )
    reader = RespReader()
    got = [r for i in range(len(stream)) for r in reader.feed(stream[i : i + 1])]
    assert got == [[b"subscribe", b"c1", 1], [b"message", b"c1", b"he\r\no"]]
    assert command(b"PUBLISH", b"c", b"") == b"*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$0\r\n\r\n"
    with pytest.raises(RespError, match="WRONGTYPE"):
        RespReader().feed(b"-WRONGTYPE no\r\n")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.binary(max_size=40), st.binary(max_size=300)), max_size=6),
    st.lists(st.integers(0, 10_000), max_size=6),
)
def test_message_pushes_come_out_whole_however_the_stream_is_cut(
    pushes: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(command(b"message", channel, payload) for channel, payload in pushes)
    reader = RespReader()
    got = [r for chunk in _split(stream, cuts) for r in reader.feed(chunk)]
    assert got == [[b"message", channel, payload] for channel, payload in pushes]


#: Bytes that start like a message push, so that the fuzz reaches the push's own fast path.
_PUSHY = st.binary(max_size=200).map(lambda b: b"*3\r\n$7\r\nmessage\r\n$" + b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=200), _PUSHY), max_size=6))
def test_arbitrary_redis_bytes_raise_nothing_but_resp_error(chunks: list[bytes]) -> None:
    reader = RespReader()
    try:
        for chunk in chunks:
            reader.feed(chunk)
    except RespError:
        pass


# -- the server, two forked workers --------------------------------------------------------------------


async def _drive(port: int) -> dict[str, int | None]:
    """200 sockets on one channel and a publisher: every message to every socket, a ping answered, an
    oversize frame closed with 1009."""
    got: dict[int, int] = {}
    subscribed: dict[int, asyncio.Future[None]] = {}
    loop = asyncio.get_running_loop()

    def on_text(conn: wsproto.WSClient, payload: bytes) -> None:
        msg = json.loads(payload)
        if msg.get("type") == "subscribed":
            assert msg["channel"] == "room:all"
            subscribed[conn.index].set_result(None)
        else:
            got[conn.index] = got.get(conn.index, 0) + 1

    conns = []
    for i in range(200):
        subscribed[i] = loop.create_future()
        conns.append(await wsproto.connect("127.0.0.1", port, "/ws?channel=room:all", on_text, index=i))
    await asyncio.wait_for(asyncio.gather(*subscribed.values()), 30)
    assert not any(c.deflate for c in conns)  # offered, never agreed
    pub = await wsproto.connect("127.0.0.1", port, "/publish", lambda _c, _p: None, offer_deflate=False)
    for s in range(20):
        pub.send_text(json.dumps({"type": "message", "channel": "room:all", "data": {"s": s}}))
    deadline = time.monotonic() + 10
    while sum(got.values()) < 200 * 20 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    pub.transport.write(wsproto.encode_frame(b"p" * 70_000, 1))  # type: ignore[union-attr]
    await asyncio.wait_for(pub.closed, 10)
    for c in conns:
        c.close()
    return {"delivered": sum(got.values()), "sockets": len(got), "publisher_close": pub.close_code}


def test_two_workers_deliver_everything_and_stop_with_the_parent() -> None:
    import uvloop

    redis = RedisServer()
    redis.start()
    port = free_port()
    server = procs.spawn(
        [procs.PYTHON, "-m", "bench.floor_server", "--port", str(port), "--workers", "2"],
        env={"STARS_REDIS_URL": redis.url},
    )
    try:
        procs.wait_http(port, "/healthz", timeout=30)
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        out = uvloop.run(_drive(port))
        assert out == {"delivered": 4000, "sockets": 200, "publisher_close": 1009}
        assert server.poll() is None
    finally:
        procs.stop(server)
        redis.stop()
    assert server.returncode == 0  # SIGTERM: the workers stopped cleanly and the parent with them
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def test_text_frames_are_built_with_the_right_length_header() -> None:
    for n, head in (
        (5, b"\x81\x05"),
        (126, b"\x81\x7e\x00\x7e"),
        (70_000, b"\x81\x7f" + struct.pack("!Q", 70_000)),
    ):
        assert text_frame(b"x" * n) == head + b"x" * n
