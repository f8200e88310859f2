"""Tokens, permissions, limits and malformed input: refused or answered with an error, never a crash."""

from __future__ import annotations

import asyncio
import time
import uuid

import jwt
import pytest
import websockets

from tests.runtime.helpers import SECRET, Client, metric, token

pytestmark = [pytest.mark.services, pytest.mark.asyncio]


def channel() -> str:
    return "room:" + uuid.uuid4().hex[:8]


@pytest.fixture
def server(start_runtime, services_env):
    env = {**services_env, "STARS_MAX_FRAME_BYTES": "4096", "STARS_MAX_SUBSCRIPTIONS": "3",
           "STARS_PUBLISH_RATE": "5", "STARS_PUBLISH_BURST": "5"}  # fmt: skip
    return start_runtime(env)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-a-jwt",
        token(secret="some-other-secret-of-at-least-32-bytes"),
        jwt.encode({"sub": "x", "exp": int(time.time()) - 10}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "x"}, SECRET, algorithm="HS256"),  # no expiry
        jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "k" * 48, algorithm="HS384"),
    ],
    ids=["missing", "garbage", "wrong-secret", "expired", "no-exp", "wrong-alg"],
)
async def test_bad_tokens_are_refused_at_the_handshake(server, bad: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await Client.connect(server.ws(bad))
    assert refused.value.response.status_code == 403
    status, body = server.post("/api/channels/room:x/messages", {"data": 1}, token=bad or None)
    assert status == 401 and body["error"] == "unauthorized"


async def test_token_expiring_on_an_open_connection_closes_it_with_4401(server) -> None:
    async with await Client.connect(server.ws(token(ttl=1))) as c:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await c.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_forbidden_channels(server) -> None:
    tok = token(subscribe=("room:*", "news:*"), publish=("room:*",))
    async with await Client.connect(server.ws(tok)) as c:
        await c.send({"type": "subscribe", "channel": "secret:x", "id": 1})
        assert await c.recv() == {
            "type": "error", "code": "forbidden", "message": "token may not subscribe to secret:x", "id": 1
        }  # fmt: skip
        await c.send({"type": "publish", "channel": "news:x", "data": 1, "id": 2})
        err = await c.expect("error")
        assert err["code"] == "forbidden" and err["id"] == 2
        assert (await c.subscribe("news:x"))["channel"] == "news:x"  # subscribe allowed, publish not
    assert server.post("/api/channels/news:x/messages", {"data": 1}, token=tok)[0] == 403
    assert server.get("/api/channels/secret:x/messages", token=tok)[0] == 403
    assert server.get("/api/channels/secret:x/presence", token=tok)[0] == 403


async def test_malformed_frames_get_error_frames_and_the_connection_survives(server) -> None:
    ch = channel()
    cases = [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "subscribe"}', "bad_channel"),
        ('{"type": "subscribe", "channel": "room:*"}', "bad_channel"),
        ('{"type": "subscribe", "channel": "' + ch + '", "since": -1}', "bad_frame"),
        ('{"type": "subscribe", "channel": "' + ch + '", "since": "x"}', "bad_frame"),
        ('{"type": "publish", "channel": "' + ch + '"}', "bad_frame"),
        ('{"type": "unsubscribe", "channel": "' + ch + '"}', "not_subscribed"),
        ('{"type": "ping", "id": {"a": 1}}', "bad_frame"),
        ('{"type": "publish", "channel": "' + ch + '", "data": "\\ud800"}', "bad_frame"),  # lone surrogate
    ]
    async with await Client.connect(server.ws(token())) as c:
        for text, code in cases:
            await c.send(text)
            frame = await c.expect("error")
            assert frame["code"] == code, (text, frame)
        await c.ws.send(b"\x00\x01binary")
        assert (await c.expect("error"))["code"] == "bad_frame"
        await c.send({"type": "ping"})
        assert await c.recv() == {"type": "pong"}
        await c.subscribe(ch)
        await c.send({"type": "subscribe", "channel": ch})
        assert (await c.expect("error"))["code"] == "already_subscribed"
        await c.send({"type": "unsubscribe", "channel": ch})
        assert await c.recv() == {"type": "unsubscribed", "channel": ch}
    assert metric(server, "stars_rejected_frames_total") >= len(cases)
    assert server.post(f"/api/channels/{ch}/messages", b"{nope", token=token())[0] == 400
    assert server.post(f"/api/channels/{ch}/messages", {"nodata": 1}, token=token())[0] == 400
    assert server.post(f"/api/channels/{ch}/messages", b'{"data": "\\ud800"}', token=token())[0] == 400
    assert server.get(f"/api/channels/{ch}/messages?limit=0", token=token())[0] == 400
    assert server.get("/api/channels/bad*name/messages", token=token())[0] == 400


async def test_oversized_frame_closes_with_1009(server) -> None:
    async with await Client.connect(server.ws(token())) as c:
        await c.send({"type": "publish", "channel": "room:a", "data": "x" * 5000})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await c.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert server.post("/api/channels/room:a/messages", {"data": "x" * 5000}, token=token())[0] == 413


async def test_subscription_limit_and_publish_rate_limit(server) -> None:
    async with await Client.connect(server.ws(token())) as c:
        for i in range(3):
            await c.subscribe(f"room:limit{i}")
        await c.send({"type": "subscribe", "channel": "room:limit3"})
        assert (await c.expect("error"))["code"] == "too_many_subscriptions"
        ch = channel()
        codes = []
        for i in range(8):  # burst of 5 allowed, then rate limited
            await c.send({"type": "publish", "channel": ch, "data": i, "id": i})
            codes.append((await c.recv())["type"])
        assert codes[:5] == ["ack"] * 5
        assert "error" in codes[5:]
        await asyncio.sleep(0.5)  # refills at 5/s
        await c.send({"type": "publish", "channel": ch, "data": "later", "id": "later"})
        assert (await c.recv())["type"] == "ack"


async def test_history_cache_serves_full_pages_only(server) -> None:
    ch = channel()
    tok = token()
    for i in range(5):
        assert server.post(f"/api/channels/{ch}/messages", {"data": i}, token=tok)[0] == 201
    first = server.get(f"/api/channels/{ch}/messages?since=0&limit=3", token=tok)
    again = server.get(f"/api/channels/{ch}/messages?since=0&limit=3", token=tok)
    assert first == again and [m["offset"] for m in first[1]["messages"]] == [1, 2, 3]
    tail = server.get(f"/api/channels/{ch}/messages?since=3&limit=3", token=tok)[1]
    assert [m["offset"] for m in tail["messages"]] == [4, 5]
    await asyncio.sleep(0.3)  # REST publishes share the subject's bucket (burst 5, 5/s here)
    assert server.post(f"/api/channels/{ch}/messages", {"data": 5}, token=tok)[0] == 201
    tail = server.get(f"/api/channels/{ch}/messages?since=3&limit=3", token=tok)[1]
    assert [m["offset"] for m in tail["messages"]] == [4, 5, 6], "a partial page is never served stale"
