"""Hostile input and broker faults, one regression test per defect: nothing that cannot be sent is
stored, no false acknowledgement, no false outage alarm, no traceback per frame, readable logs."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bench.servers import PostgresServer, RedisServer, RuntimeServer
from tests.runtime.helpers import SECRET, Client, metric, token

pytestmark = [pytest.mark.services, pytest.mark.asyncio]


def channel() -> str:
    return "room:" + uuid.uuid4().hex[:8]


def strict_json(text: str | bytes) -> Any:
    """What a strict client parses: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def hostile_server(redis: RedisServer, postgres: PostgresServer) -> Iterator[RuntimeServer]:
    url = postgres.create_database("h" + uuid.uuid4().hex[:12])
    env = {"STARS_JWT_SECRET": SECRET, "STARS_REDIS_URL": redis.url, "STARS_DATABASE_URL": url}
    server = RuntimeServer(env).start()
    yield server
    server.stop()


async def _stored(server: RuntimeServer, ch: str) -> list[Any]:
    status, body = server.get(f"/api/channels/{ch}/messages?since=0&limit=100", token=token())
    assert status == 200, body
    return body["messages"]


NOT_FINITE = "data: numbers must be finite (NaN and Infinity are not JSON)"


# NaN and Infinity are not JSON tokens: the parser refuses them (bad_json). 1e999 and -1e400 are JSON
# numbers that overflow to infinity: they parse, and the data's encoding refuses them (bad_frame).
@pytest.mark.parametrize(
    ("number", "code", "ws_message", "rest_message"),
    [
        ("NaN", "bad_json", "frame is not valid JSON (NaN is not JSON)", "body is not valid JSON"),
        ("Infinity", "bad_json", "frame is not valid JSON (Infinity is not JSON)", "body is not valid JSON"),
        (
            "-Infinity",
            "bad_json",
            "frame is not valid JSON (-Infinity is not JSON)",
            "body is not valid JSON",
        ),
        ("1e999", "bad_frame", NOT_FINITE, NOT_FINITE),
        ("-1e400", "bad_frame", NOT_FINITE, NOT_FINITE),
    ],
)
async def test_non_finite_numbers_are_refused_and_never_stored(
    hostile_server, number: str, code: str, ws_message: str, rest_message: str
) -> None:
    ch = channel()
    async with await Client.connect(hostile_server.ws(token())) as c:
        await c.subscribe(ch)
        await c.send(f'{{"type":"publish","channel":"{ch}","data":{{"x":{number}}},"id":"n"}}')
        err = await c.expect("error")
        assert (err["code"], err["message"]) == (code, ws_message), err
        await c.send({"type": "publish", "channel": ch, "data": "fine", "id": "ok"})
        assert (await c.expect("ack"))["offset"] == 1
        frame = await asyncio.wait_for(c.ws.recv(), 5)
        assert strict_json(frame)["offset"] == 1  # every frame on the wire is strict JSON
    body = f'{{"data":[{number}]}}'.encode()
    status, reply = hostile_server.post(f"/api/channels/{ch}/messages", body, token=token())
    assert (status, reply["error"], reply["message"]) == (400, code, rest_message), reply
    status, raw = hostile_server.get(f"/api/channels/{ch}/messages", token=token())
    assert status == 200 and [m["data"] for m in raw["messages"]] == ["fine"]


async def test_newline_channel_is_refused_on_every_path(hostile_server) -> None:
    async with await Client.connect(hostile_server.ws(token())) as c:
        for kind in ("subscribe", "publish"):
            await c.send({"type": kind, "channel": "room:x\n", "data": 1, "id": kind})
            err = await c.expect("error")
            assert (err["code"], err["id"]) == ("bad_channel", kind)
    status, _ = hostile_server.post("/api/channels/room:x%0A/messages", {"data": 1}, token=token())
    assert status == 400


async def test_a_lone_surrogate_id_is_refused_before_anything_is_stored(hostile_server) -> None:
    ch = channel()
    async with await Client.connect(hostile_server.ws(token())) as c:
        await c.send(f'{{"type":"publish","channel":"{ch}","data":1,"id":"\\ud800"}}')
        err = await c.expect("error")
        assert err["code"] == "bad_frame" and "id" in err["message"], err
        await c.send(f'{{"type":"publish","channel":"{ch}","data":"\\udfff x","id":"d"}}')
        assert (await c.expect("error"))["code"] == "bad_frame"
    assert await _stored(hostile_server, ch) == [], "an error frame means nothing was stored"
    assert "Traceback" not in hostile_server.logs()


async def test_deep_nesting_is_a_bad_frame_without_a_traceback(hostile_server) -> None:
    ch = channel()
    async with await Client.connect(hostile_server.ws(token())) as c:
        await c.send(f'{{"type":"publish","channel":"{ch}","data":' + "[" * 30_000)
        assert (await c.expect("error"))["code"] == "bad_frame"
        deep = "[" * 100 + "]" * 100
        await c.send(f'{{"type":"publish","channel":"{ch}","data":{deep}}}')
        err = await c.expect("error")
        assert err["code"] == "bad_frame" and "nested" in err["message"]
        ok = "[" * 63 + "]" * 63  # the frame's object and 63 arrays: 64 levels, the limit
        await c.send(f'{{"type":"publish","channel":"{ch}","data":{ok},"id":1}}')
        assert (await c.expect("ack"))["offset"] == 1
    status, _ = hostile_server.post(
        f"/api/channels/{ch}/messages", b'{"data":' + b"[" * 30_000, token=token()
    )
    assert status == 400
    assert "Traceback" not in hostile_server.logs() and "RecursionError" not in hostile_server.logs()
    assert metric(hostile_server, 'stars_rejected_frames_total{code="internal"}') == 0


async def test_offsets_past_64_bits_are_bad_requests_not_outages(hostile_server) -> None:
    ch = channel()
    async with await Client.connect(hostile_server.ws(token())) as c:
        for since in (2**63, 2**64 + 1, 10**30):
            await c.send({"type": "subscribe", "channel": ch, "since": since, "id": "s"})
            assert (await c.expect("error"))["code"] == "bad_frame"
        await c.send({"type": "subscribe", "channel": ch, "since": 2**63 - 1})
        assert (await c.expect("subscribed"))["offset"] == 0
    for since_text in ("99999999999999999999", str(2**63)):
        status, body = hostile_server.get(f"/api/channels/{ch}/messages?since={since_text}", token=token())
        assert status == 400 and body["error"] == "bad_request", body
    status, body = hostile_server.get(f"/api/channels/{ch}/messages?since={2**63 - 1}", token=token())
    assert status == 200 and body["messages"] == []
    assert metric(hostile_server, 'stars_rejected_frames_total{code="unavailable"}') == 0


LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+ \[\d+\] "
)


async def test_logs_have_time_level_logger_pid_and_repeats_are_rate_limited(
    start_runtime, database_url
) -> None:
    """Redis down under 100 publishes/s: a handful of warnings and a count, not one line per publish;
    the runtime's own info lines (drain) appear; every line says when, how bad, who and which worker."""
    redis = RedisServer()
    redis.start()
    try:
        env = {"STARS_REDIS_URL": redis.url, "STARS_DATABASE_URL": database_url, "STARS_LOG_LEVEL": "info"}
        server = start_runtime({**env, "STARS_PUBLISH_RATE": "1000"}, log_level=None)
        ch = channel()
        async with await Client.connect(server.ws(token())) as c:
            await c.subscribe(ch)
            redis.kill()
            for i in range(100):
                await c.send({"type": "publish", "channel": ch, "data": i, "id": i})
                frames = {f["type"]: f["offset"] for f in [await c.recv(), await c.recv()]}
                assert frames == {"ack": i + 1, "message": i + 1}  # delivered locally at once
        assert metric(server, "stars_log_suppressed_total") >= 80  # 5 lines per 10 s pass (2 windows at most)
        server.terminate()
        server.process.wait(timeout=15)
        lines = [line for line in server.logs().splitlines() if line.strip()]
        failed = [line for line in lines if "broker publish failed" in line]
        assert 1 <= len(failed) <= 10, failed  # not one per publish (100)
        assert any(re.search(r"INFO runtime \[\d+\] draining: \d+ connections", line) for line in lines), (
            lines[-10:]
        )
        logged = [line for line in lines if LINE.match(line)]
        assert len(logged) >= 3 and all(LINE.match(line) for line in lines if "WARNING" in line), lines[:10]
    finally:
        redis.stop()


async def test_after_a_broker_restart_local_subscribers_do_not_wait_for_the_backoff(
    start_runtime, database_url
) -> None:
    redis = RedisServer()
    redis.start()
    try:
        server = start_runtime({"STARS_REDIS_URL": redis.url, "STARS_DATABASE_URL": database_url})
        ch = channel()
        async with (
            await Client.connect(server.ws(token())) as sub,
            await Client.connect(server.ws(token())) as pub,
        ):
            await sub.subscribe(ch)
            redis.kill()
            await asyncio.sleep(4.0)  # the pub/sub reconnect backoff grows to its cap (2 s +-50%)
            await asyncio.to_thread(redis.start)
            late = []
            for i in range(5):
                await pub.send({"type": "publish", "channel": ch, "data": i, "id": i})
                offset = (await pub.expect("ack"))["offset"]
                t0 = time.monotonic()
                assert (await sub.expect("message", timeout=10))["offset"] == offset
                late.append(time.monotonic() - t0)
            assert max(late) < 0.25, (
                f"local subscriber waited {max(late):.2f} s for a publish of its own worker"
            )
            await asyncio.sleep(0.5)  # the subscription is back: messages from Redis again, no duplicates
            await pub.send({"type": "publish", "channel": ch, "data": "after", "id": "after"})
            offset = (await pub.expect("ack"))["offset"]
            assert (await sub.expect("message"))["offset"] == offset == 6
    finally:
        redis.stop()


async def test_invalid_utf8_closes_with_1007_without_a_traceback(hostile_server) -> None:
    import base64
    import os

    reader, writer = await asyncio.open_connection("127.0.0.1", hostile_server.port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws?token={token()} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 101")
        payload, mask = b'{"type":"ping","x":"\xff\xfe"}', os.urandom(4)
        writer.write(
            bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        )
        close = await asyncio.wait_for(reader.read(4), 5)
        assert close[:2] == b"\x88\x02" and int.from_bytes(close[2:4], "big") == 1007
    finally:
        writer.close()
    await asyncio.sleep(0.3)
    logs = hostile_server.logs()
    assert "Invalid UTF-8 sequence received from client." in logs and "Traceback" not in logs
