"""Property-based fuzzing of the protocol: the parser in-process (many examples), then a live server
(a bounded number; ``python -m bench fuzz --minutes N`` for a long run). See bench/fuzz.py."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from bench.fuzz import RawText, frames, run_fuzz, strict_loads
from runtime import protocol


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
        request = protocol.parse(frame)
        if isinstance(request, protocol.Request):
            if request.type == "subscribe":
                since = protocol.since_of(request)
                assert since is None or 0 <= since <= protocol.MAX_OFFSET
            if request.type == "publish":
                protocol.require_data(request)
                data = protocol.data_of(request)
                assert strict_loads(data) == json.loads(data)  # stored text is strict JSON...
                data.encode()  # ...and valid UTF-8
                out = protocol.message(request.channel, 1, data)
                assert strict_loads(out)["data"] == strict_loads(data)
                ack = protocol.ack(request.ref, request.channel, 2**63 - 1)
                assert strict_loads(ack)["id"] == request.ref
                ack.encode()
    except protocol.ProtocolError as exc:
        assert exc.error in protocol.ERRORS and exc.error is not protocol.INTERNAL
        protocol.error(exc.error, exc.message, exc.ref).encode()  # the error frame can be sent


@pytest.mark.services
def test_a_live_server_answers_every_frame_as_documented_and_stores_only_what_it_acknowledged() -> None:
    result = run_fuzz(examples=600, log=lambda _line: None)
    assert result["findings"] == [], result
    assert result["frames"] >= 300 and result["acknowledged"] > 10, result
    assert {1007, 1009} <= set(result["closes_by_code"]), result  # invalid UTF-8, oversized frames
    assert {"bad_json", "bad_frame", "bad_channel", "forbidden", "unknown_type"} <= set(
        result["errors_by_code"]
    )
