"""Property-based fuzzing of the protocol: the parser in-process (many examples), then a live server
(a bounded number; ``python -m bench fuzz --minutes N`` for a long run). See bench/fuzz.py."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz import RawText, frames, run_fuzz, strict_loads
from runtime import envelope, protocol
from runtime.auth import valid_channel


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_the_parser_accepts_or_refuses_with_a_documented_code(frame: str | bytes) -> None:
    if isinstance(frame, RawText):  # reaches the parser only as valid UTF-8 (else closed with 1007)
        try:
            frame = frame.decode()
        except UnicodeDecodeError:
            return
    if isinstance(frame, bytes):
        return  # binary frames never reach the parser (bad_frame in the endpoint)
    try:
        command = protocol.parse(frame)
    except protocol.ProtocolError as exc:
        assert exc.error in protocol.ERRORS and exc.error is not protocol.INTERNAL
        protocol.error(exc.error, exc.message, exc.ref).encode()  # the error frame can be sent
        return
    _check_command(command)


def _check_command(command: protocol.Command) -> None:
    """A parsed command's fields are what the connection may use as they are, or a deferred refusal."""
    if isinstance(command, protocol.Ping):
        return
    assert valid_channel(command.channel)
    assert command.ref is None or isinstance(command.ref, int | str)
    protocol.error(protocol.FORBIDDEN, "x", command.ref).encode()  # any reply can carry the id
    if isinstance(command, protocol.Subscribe):
        since = command.since
        assert since is None or isinstance(since, protocol.Invalid) or 0 <= since <= protocol.MAX_OFFSET
    elif isinstance(command, protocol.Publish):
        data = command.data
        if isinstance(data, protocol.Invalid):
            assert data.refusal(command.ref).error is protocol.BAD_FRAME
        elif data is not None:
            assert strict_loads(data) == json.loads(data)  # stored text is strict JSON...
            data.encode()  # ...and valid UTF-8
            out = protocol.message(command.channel, 1, data)
            assert strict_loads(out)["data"] == strict_loads(data)
            ack = protocol.ack(command.ref, command.channel, 2**63 - 1)
            assert strict_loads(ack)["id"] == command.ref
            ack.encode()
    else:
        assert isinstance(command, protocol.Unsubscribe)


_GOOD = envelope.encode(envelope.Envelope(7, 1764950000.25, protocol.message("room:a", 7, '{"k":[1]}')))


@st.composite
def payloads(draw: st.DrawFn) -> str | bytes:
    """Broker payloads: random bytes and text, and a valid envelope cut, spliced or with a bad field."""
    good = _GOOD
    offset = draw(
        st.one_of(st.integers(-(2**70), 2**70).map(str), st.sampled_from(["", "+1", "1_0", "\u0661", " 1"]))
    )
    stamp = draw(st.one_of(st.floats().map(repr), st.sampled_from(["nan", "inf", "", "1e999", "x"])))
    frame = draw(st.one_of(st.text(max_size=30), st.just(good.split(" ", 2)[2])))
    cut = draw(st.integers(0, len(good)))
    return draw(
        st.one_of(
            st.binary(max_size=80),
            st.text(max_size=80),
            st.just(f"{offset} {stamp} {frame}"),
            st.just(good[:cut] + draw(st.text(max_size=3)) + good[cut:]),
            st.just((good[:cut] + good[cut + 1 :]).encode()),
            st.just(good.encode()[:cut] + draw(st.binary(max_size=3))),
        )
    )


@settings(max_examples=500, deadline=None)
@given(payloads())
def test_the_broker_payload_decoder_returns_an_envelope_or_refuses(payload: str | bytes) -> None:
    try:
        got = envelope.decode(payload)
    except envelope.BadPayload:
        return
    assert (
        1 <= got.offset <= protocol.MAX_OFFSET and got.stamp == got.stamp and abs(got.stamp) != float("inf")
    )
    assert got.frame.startswith('{"type":"message",') and got.frame.endswith("}")
    assert envelope.decode(envelope.encode(got)).offset == got.offset


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, protocol.MAX_OFFSET),
    st.floats(0, 2e9, allow_nan=False),
    st.sampled_from(["1", '"\u00e9 é"', '{"a":[null,true]}']),
)
def test_an_encoded_envelope_decodes_to_itself(offset: int, stamp: float, data: str) -> None:
    sent = envelope.Envelope(offset, stamp, protocol.message("room:a", offset, data))
    got = envelope.decode(envelope.encode(sent))
    assert (got.offset, got.frame) == (sent.offset, sent.frame) and abs(
        got.stamp - stamp
    ) <= 1e-6  # microseconds on the wire
    assert envelope.decode(envelope.encode(sent).encode()) == got  # the same from the broker's bytes


@pytest.mark.services
def test_a_live_server_answers_every_frame_as_documented_and_stores_only_what_it_acknowledged() -> None:
    result = run_fuzz(examples=600, log=lambda _line: None)
    assert result["findings"] == [], result
    assert result["frames"] >= 300 and result["acknowledged"] > 10, result
    assert {1007, 1009} <= set(result["closes_by_code"]), result  # invalid UTF-8, oversized frames
    assert {"bad_json", "bad_frame", "bad_channel", "forbidden", "unknown_type"} <= set(
        result["errors_by_code"]
    )
