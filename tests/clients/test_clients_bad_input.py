"""Bad input reaching the clients: malformed and unknown frames from the server (injected by the
proxy), a message that skips offsets or repeats one, and a token callback that throws. Each gives a
clear error event; the client stays consistent (still connected, nothing missed or repeated) and, in
the browser, nothing escapes as a page error or an unhandled rejection (checked by the fixture)."""

from __future__ import annotations

import json

import pytest

from tests.clients.conftest import Cluster, channel, until

pytestmark = [pytest.mark.services]


def errors_of(handle) -> list[str]:
    return [payload["code"] for kind, payload in handle.event_log() if kind == "error"]


def test_malformed_unknown_and_out_of_order_frames(handle, cluster: Cluster) -> None:
    handle.start([cluster.url(cluster.proxy)])
    ch = channel()
    handle.subscribe(ch)
    assert handle.publish(ch, "first") == {"offset": 1}
    assert until(handle, lambda: handle.delivered(ch) == [1])
    no_offset = json.dumps({"type": "message", "channel": ch})
    for frame in ("not json {", "[1,2]", '{"type":"surprise"}', no_offset):
        assert cluster.proxy.inject(frame) == 1
    assert until(handle, lambda: len(errors_of(handle)) == 4)
    assert errors_of(handle) == ["bad_server_frame", "bad_server_frame", "unknown_frame", "bad_server_frame"]
    assert handle.state() == "connected"
    cluster.proxy.inject(json.dumps({"type": "message", "channel": ch, "offset": 1, "data": "again"}))
    assert until(handle, lambda: handle.duplicates_dropped() == 1)
    assert handle.duplicates_dropped() == 1, "a repeated offset is dropped, not delivered"
    cluster.proxy.inject(json.dumps({"type": "message", "channel": ch, "offset": 9, "data": "jump"}))
    assert until(handle, lambda: errors_of(handle)[-1] == "gap")
    assert errors_of(handle)[-1] == "gap", "a skipped offset is an error and a resume, not a delivery"
    assert handle.publish(ch, "second") == {"offset": 2}
    assert until(handle, lambda: handle.delivered(ch) == [1, 2]), handle.delivered(ch)
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
    assert until(handle, lambda: handle.delivered(ch) == [1])
    reasons = [p.get("reason") for k, p in handle.event_log() if k == "disconnected"]
    assert ("disconnected", 1000) in [(k, p.get("code")) for k, p in handle.event_log()]
    assert "token refresh" in reasons and all(p.get("code") != 4401 for k, p in handle.event_log()
                                               if k == "disconnected"), reasons  # fmt: skip
    assert handle.delivered(ch) == [1]


@pytest.mark.parametrize("code", [1002, 1007, 1009])
def test_a_close_code_that_says_do_not_reconnect_ends_the_client(handle, cluster: Cluster, code: int) -> None:
    handle.start([cluster.url(cluster.proxy)])
    ch = channel()
    handle.subscribe(ch)
    assert cluster.proxy.inject(code.to_bytes(2, "big") + b"bye", opcode=0x8) == 1  # a close frame
    assert until(handle, lambda: handle.state() == "closed")
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
    assert until(handle, lambda: any(k == "disconnected" for k, _ in handle.event_log()))
    closes = [(p["code"], p["reconnect"]) for k, p in handle.event_log() if k == "disconnected"]
    if handle.kind == "python":
        assert closes == [(1009, False)] and handle.state() == "closed"
    elif closes[0] == (1009, False):  # Chromium saw the server's close frame
        assert handle.state() == "closed"
    else:  # or, when the server closed while the frame was still being sent, a bare 1006
        assert closes[0] == (1006, True)
        assert until(handle, lambda: handle.state() == "connected")
        assert handle.publish(ch, "after") == {"offset": 1}


def test_a_failed_refresh_ends_in_4401_then_a_new_token_and_resume(handle, cluster: Cluster) -> None:
    handle.start([cluster.url(cluster.a)], {"refresh_margin": 1.0}, ttl=3, fail_calls=(2,))
    ch = channel()
    handle.subscribe(ch)
    # the refresh (call 2) fails; the server closes at expiry with 4401; call 3 gives a new token
    closed = False
    for _ in range(100):
        handle.wait(0.1)
        closed = ("disconnected", 4401) in [(k, p.get("code")) for k, p in handle.event_log()]
        if closed and handle.state() == "connected":
            break
    assert closed, handle.event_log()
    assert [p["code"] for k, p in handle.event_log() if k == "error"] == ["token_error"]
    assert handle.state() == "connected"
    assert handle.publish(ch, "after") == {"offset": 1}
    assert until(handle, lambda: handle.delivered(ch) == [1])
