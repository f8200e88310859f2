"""Bad input reaching the clients: malformed and unknown frames from the server (injected by the
proxy), a message that skips offsets or repeats one, and a token callback that throws. Each gives a
clear error event; the client stays consistent (still connected, nothing missed or repeated) and, in
the browser, nothing escapes as a page error or an unhandled rejection (checked by the fixture)."""

from __future__ import annotations

import json

import pytest

from tests.clients.conftest import Cluster, channel

pytestmark = [pytest.mark.services]


def errors_of(handle) -> list[str]:
    return [payload["code"] for kind, payload in handle.event_log() if kind == "error"]


def test_malformed_unknown_and_out_of_order_frames(handle, cluster: Cluster) -> None:
    handle.start([cluster.url(cluster.proxy)])
    ch = channel()
    handle.subscribe(ch)
    assert handle.publish(ch, "first") == {"offset": 1}
    handle.wait(0.3)
    no_offset = json.dumps({"type": "message", "channel": ch})
    for frame in ("not json {", "[1,2]", '{"type":"surprise"}', no_offset):
        assert cluster.proxy.inject(frame) == 1
    handle.wait(0.3)
    assert errors_of(handle) == ["bad_server_frame", "bad_server_frame", "unknown_frame", "bad_server_frame"]
    assert handle.state() == "connected"
    cluster.proxy.inject(json.dumps({"type": "message", "channel": ch, "offset": 1, "data": "again"}))
    handle.wait(0.3)
    assert handle.duplicates_dropped() == 1, "a repeated offset is dropped, not delivered"
    cluster.proxy.inject(json.dumps({"type": "message", "channel": ch, "offset": 9, "data": "jump"}))
    handle.wait(1.5)
    assert errors_of(handle)[-1] == "gap", "a skipped offset is an error and a resume, not a delivery"
    assert handle.publish(ch, "second") == {"offset": 2}
    handle.wait(0.3)
    assert handle.delivered(ch) == [1, 2]
    assert handle.payloads(ch) == ["first", "second"]
    assert handle.state() == "connected"


def test_a_token_callback_that_throws_is_an_error_event_then_retried(handle, cluster: Cluster) -> None:
    handle.start([cluster.url(cluster.a)], fail_calls=(1, 2))
    codes = errors_of(handle)
    assert codes == ["token_error", "token_error"], codes
    assert handle.state() == "connected"
    ch = channel()
    handle.subscribe(ch)
    assert handle.publish(ch, 1) == {"offset": 1}


def test_an_expiring_token_is_refreshed_before_the_server_closes_with_4401(handle, cluster: Cluster) -> None:
    handle.start([cluster.url(cluster.a)], {"refresh_margin": 2.0}, ttl=4)
    ch = channel()
    handle.subscribe(ch)
    handle.wait(4.5)  # past the first token's expiry
    assert handle.publish(ch, "after") == {"offset": 1}
    handle.wait(0.3)
    reasons = [p.get("reason") for k, p in handle.event_log() if k == "disconnected"]
    assert "token refresh" in reasons and all(p.get("code") != 4401 for k, p in handle.event_log()
                                               if k == "disconnected"), reasons  # fmt: skip
    assert handle.delivered(ch) == [1]


@pytest.mark.parametrize("code", [1002, 1007, 1009])
def test_a_close_code_that_says_do_not_reconnect_ends_the_client(handle, cluster: Cluster, code: int) -> None:
    handle.start([cluster.url(cluster.proxy)])
    ch = channel()
    handle.subscribe(ch)
    assert cluster.proxy.inject(code.to_bytes(2, "big") + b"bye", opcode=0x8) == 1  # a close frame
    handle.wait(0.5)
    closes = [(p["code"], p["reconnect"]) for k, p in handle.event_log() if k == "disconnected"]
    assert closes == [(code, False)]
    assert handle.state() == "closed"
    assert handle.publish(ch, "after")["error"] == "closed"


def test_the_servers_1009_for_a_frame_too_big(handle, cluster: Cluster) -> None:
    # The client's own bound raised above the server's, so the server closes with 1009.
    handle.start([cluster.url(cluster.b)], {"max_frame_bytes": 200_000})
    ch = channel()
    handle.subscribe(ch)
    answer = handle.publish(ch, "x" * 70_000)
    assert answer["error"] in ("connection_lost", "closed"), answer
    handle.wait(0.5)
    closes = [(p["code"], p["reconnect"]) for k, p in handle.event_log() if k == "disconnected"]
    if handle.kind == "python":
        assert closes == [(1009, False)] and handle.state() == "closed"
    else:  # Chromium reports 1006: the server closed while the frame was still being sent
        assert closes[0] == (1006, True) and handle.state() == "connected"
        assert handle.publish(ch, "after") == {"offset": 1}


def test_a_failed_refresh_ends_in_4401_then_a_new_token_and_resume(handle, cluster: Cluster) -> None:
    handle.start([cluster.url(cluster.a)], {"refresh_margin": 1.0}, ttl=3, fail_calls=(2,))
    ch = channel()
    handle.subscribe(ch)
    handle.wait(4.0)  # the refresh (call 2) fails; the server closes at expiry with 4401
    kinds = [(k, p.get("code")) for k, p in handle.event_log() if k in ("error", "disconnected")]
    assert ("disconnected", 4401) in kinds, kinds
    assert handle.event_log()[-1][0] in ("connected", "resubscribed", "state")
    assert [p["code"] for k, p in handle.event_log() if k == "error"] == ["token_error"]
    assert handle.state() == "connected"
    assert handle.publish(ch, "after") == {"offset": 1}
    handle.wait(0.3)
    assert handle.delivered(ch) == [1]
