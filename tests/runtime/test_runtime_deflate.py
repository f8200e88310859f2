"""permessage-deflate without context takeover: the offer parser, the compressed frames, and real clients
with and without the extension receiving the same messages from one server."""

from __future__ import annotations

import asyncio
import json
import string
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.headers import parse_extension

from runtime.deflate import WINDOW_BITS, Deflater, deflated_frame, negotiate
from runtime.wire import text_frame
from tests.runtime.helpers import Client, token

# -- the offer parser ------------------------------------------------------------------------------

PARAM_NAMES = [
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
    "x",
]
pieces = st.one_of(
    st.sampled_from(
        ["permessage-deflate", "x-webkit-deflate-frame", ";", ",", "=", '"', " ", "15", "8", "9"]
    ),
    st.sampled_from(PARAM_NAMES),
    st.text(max_size=12),
)
offers = st.lists(st.lists(pieces, max_size=12).map("".join), max_size=3)


@settings(max_examples=400, deadline=None)
@given(offers)
def test_negotiate_never_raises_and_only_accepts_no_context_takeover(values: list[str]) -> None:
    result = negotiate(values)
    if result is None:
        return
    header, extension = result
    [(name, params)] = parse_extension(header)  # what we answer is a valid header
    assert name == "permessage-deflate"
    assert ("server_no_context_takeover", None) in params
    assert ("client_no_context_takeover", None) in params
    assert extension.local_no_context_takeover and extension.remote_no_context_takeover
    assert extension.local_max_window_bits >= WINDOW_BITS


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=4))
def test_negotiate_never_raises_on_any_text(values: list[str]) -> None:
    result = negotiate(values)
    assert result is None or result[0].startswith("permessage-deflate")


@pytest.mark.parametrize(
    ("values", "accepted"),
    [
        (["permessage-deflate; client_max_window_bits"], True),  # browsers and the websockets client
        (["permessage-deflate"], True),
        (["permessage-deflate; server_no_context_takeover; client_no_context_takeover"], True),
        (["permessage-deflate; server_max_window_bits=10"], False),  # below our window: no compression
        (["permessage-deflate; server_max_window_bits=10, permessage-deflate"], True),  # the second offer
        (["permessage-deflate; server_max_window_bits=15"], True),
        (["permessage-deflate; client_max_window_bits=7"], False),  # invalid value
        (["permessage-deflate; foo"], False),  # unknown parameter
        (["permessage-deflate; client_no_context_takeover; client_no_context_takeover"], False),
        (["x-webkit-deflate-frame"], False),
        ([";;=,"], False),
        (["permessage-deflate; " + "a" * 5000], False),  # too long to parse
        ([], False),
    ],
)
def test_negotiate_offers(values: list[str], accepted: bool) -> None:
    assert (negotiate(values) is not None) is accepted


# -- compressed frames -----------------------------------------------------------------------------


def _client_decoder() -> PerMessageDeflate:
    """What a client that negotiated our answer decodes with (websockets' own implementation)."""
    return PerMessageDeflate(True, True, WINDOW_BITS, WINDOW_BITS)


def _decode(frame: bytes) -> bytes:
    n = frame[1] & 0x7F
    payload = frame[2 + (2 if n == 126 else 8 if n == 127 else 0) :]
    rsv1 = bool(frame[0] & 0x40)
    return _client_decoder().decode(Frame(Opcode.TEXT, payload, rsv1=rsv1), max_size=None).data


@pytest.mark.parametrize("size", [0, 100, 255, 256, 1000, 70_000, 200_000])
def test_deflated_frame_decodes_to_the_same_message(size: int) -> None:
    text = json.dumps(
        {"type": "message", "channel": "room:a", "offset": 1, "data": {"t": "chat " * (size // 5)}}
    )
    plain = text_frame(text)
    out = deflated_frame(plain, 256)
    assert _decode(out) == text.encode()
    assert (out[0] & 0x40 != 0) is (len(text.encode()) >= 256), "only frames from min_bytes up are compressed"
    if out is not plain:
        assert len(out) < len(plain)


@pytest.mark.parametrize("text", ['{"a":1}', string.ascii_letters + string.digits])
def test_frame_that_deflate_does_not_shrink_goes_as_it_is(text: str) -> None:
    plain = text_frame(text)
    assert deflated_frame(plain, 1) is plain


def test_deflater_compresses_a_broadcast_frame_once() -> None:
    d = Deflater(1)
    plain = text_frame(json.dumps({"data": "x" * 500}))
    first = d.frame(plain)
    assert d.frame(plain) is first, "every subscriber of one broadcast gets the same compressed object"
    other = text_frame(json.dumps({"data": "y" * 500}))
    assert d.frame(other) is not first and _decode(d.frame(other)) == other[4:]


# -- real clients against a server -----------------------------------------------------------------


def _recorder(client: Client) -> list[bool]:
    """RSV1 of every data frame the client's deflate extension decodes (compressed or not)."""
    seen: list[bool] = []
    [ext] = client.ws.protocol.extensions
    decode = ext.decode

    def record(frame: Frame, *, max_size: int | None = None) -> Frame:
        if frame.opcode is Opcode.TEXT:
            seen.append(frame.rsv1)
        return decode(frame, max_size=max_size)

    ext.decode = record
    return seen


async def _collect(client: Client, channel: str, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < count:
        frame = await client.recv(10)
        if frame["type"] == "message" and frame["channel"] == channel:
            out.append(frame)
    return out


@pytest.mark.asyncio
async def test_clients_with_and_without_deflate_receive_the_same_messages(start_runtime) -> None:
    server = start_runtime({"STARS_WS_DEFLATE": "1", "STARS_WS_DEFLATE_MIN_BYTES": "256"})
    ch = "room:" + uuid.uuid4().hex[:8]
    tok = token()
    url = server.ws(tok)
    hostile = {"Sec-WebSocket-Extensions": "permessage-deflate; ;;==, x"}
    async with (
        await Client.connect(url) as deflating,  # the websockets client offers deflate by default
        await Client.connect(url, compression=None) as plain,
        await Client.connect(url, compression=None, additional_headers=hostile) as odd,
        await Client.connect(url, compression=None) as publisher,
    ):
        header = deflating.ws.response.headers["Sec-WebSocket-Extensions"]
        assert header == "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        assert "Sec-WebSocket-Extensions" not in plain.ws.response.headers
        assert "Sec-WebSocket-Extensions" not in odd.ws.response.headers, "a malformed offer: no compression"
        rsv1 = _recorder(deflating)
        for c in (deflating, plain, odd):
            await c.subscribe(ch)
        members = [{"id": f"user-{i}", "name": f"Member {i}", "status": "online"} for i in range(40)]
        sent = [{"text": "hi"}, {"presence": members}, {"text": "a longer chat line " * 20}, {"n": 1}]
        for i, data in enumerate(sent):
            await publisher.send({"type": "publish", "channel": ch, "data": data, "id": i})
            assert (await publisher.expect("ack"))["id"] == i
        got = await asyncio.gather(*(_collect(c, ch, len(sent)) for c in (deflating, plain, odd)))
        assert got[0] == got[1] == got[2]
        assert [m["data"] for m in got[0]] == sent
        # the compressed client sends compressed frames too, and they are read
        await deflating.send({"type": "publish", "channel": ch, "data": {"text": "z" * 2000}, "id": "big"})
        ack = await deflating.expect("ack")
        assert ack["id"] == "big"
        assert [m["data"] for m in await _collect(plain, ch, 1)] == [{"text": "z" * 2000}]
    # small frames (subscribed, the short messages) go uncompressed, the large ones compressed
    assert rsv1[:1] == [False] and True in rsv1


# -- the seam: uvicorn's protocol with our negotiation ---------------------------------------------


def test_the_pinned_uvicorn_takes_our_negotiation(monkeypatch: pytest.MonkeyPatch) -> None:
    from uvicorn.config import Config
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState
    from websockets.datastructures import Headers

    from runtime import uvicornseam

    monkeypatch.setattr(uvicornseam, "verified_release", lambda: False)  # read the source
    assert uvicornseam.missing_deflate() == []
    loop = asyncio.new_event_loop()
    try:

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            return None

        protos = []
        for on in (True, False):
            config = Config(app, ws=uvicornseam.WS_PROTOCOL, ws_per_message_deflate=False, lifespan="off")
            setattr(config, uvicornseam.DEFLATE_ATTR, on)
            config.load()
            protocol = config.ws_protocol_class  # typed as any asyncio protocol: the seam's is uvicorn's
            assert protocol is not None and issubclass(protocol, WebSocketsSansIOProtocol)
            protos.append(protocol(config, ServerState(), {}, _loop=loop))
    finally:
        loop.close()
    on_proto, off_proto = protos
    offer = Headers({"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"})
    header, [ext] = on_proto.conn.process_extensions(offer)
    assert header is not None and isinstance(ext, PerMessageDeflate)  # an extension was negotiated
    assert header.startswith("permessage-deflate; server_no_context_takeover")
    assert ext.local_no_context_takeover and ext.remote_no_context_takeover
    assert on_proto.conn.process_extensions(Headers({"Sec-WebSocket-Extensions": ";;"})) == (None, [])
    assert off_proto.conn.process_extensions(offer) == (None, []), "setting off: uvicorn's protocol as it is"


def test_serve_warns_when_deflate_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime import server, uvicornseam
    from runtime.config import Settings

    monkeypatch.setattr(uvicornseam, "missing_deflate", lambda: ["ServerProtocol.process_extensions"])
    [line] = server.startup_checks(Settings(ws_deflate=True))
    assert line.startswith("permessage-deflate unavailable") and "process_extensions" in line
    assert server.startup_checks(Settings(ws_deflate=False)) == []
