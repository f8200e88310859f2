"""Server keepalive pings: STARS_WS_PING_INTERVAL sets their period (0: none), and a client that
never answers is closed with 1011 after STARS_WS_PING_TIMEOUT. Read with a bare RFC 6455 client so
that no library answers the pings for us."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import pytest

from tests.runtime.helpers import metric, token

pytestmark = [pytest.mark.services, pytest.mark.asyncio]


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws?token={token()} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def _frames(reader: asyncio.StreamReader, seconds: float) -> list[tuple[int, bytes]]:
    """(opcode, payload) of every frame the server sends within ``seconds`` (or until it closes)."""
    out: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            b0, b1 = await asyncio.wait_for(reader.readexactly(2), left)
        except (TimeoutError, asyncio.IncompleteReadError):
            break
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        out.append((b0 & 0x0F, await reader.readexactly(n)))
        if b0 & 0x0F == 8:
            break
    return out


async def test_pings_follow_the_interval_and_an_unanswered_one_closes_with_1011(
    start_runtime, services_env
) -> None:
    server = start_runtime({**services_env, "STARS_WS_PING_INTERVAL": "0.4", "STARS_WS_PING_TIMEOUT": "0.6"})
    reader, writer = await _open(server.port)
    try:
        frames = await _frames(reader, 5.0)  # we never answer: one ping, then the close
        opcodes = [op for op, _ in frames]
        assert opcodes[0] == 9, frames  # a ping after ~0.4 s
        assert opcodes[-1] == 8, frames  # then a close, ~0.6 s later
        assert int.from_bytes(frames[-1][1][:2], "big") == 1011
    finally:
        writer.close()


async def test_interval_zero_sends_no_pings(start_runtime, services_env) -> None:
    server = start_runtime({**services_env, "STARS_WS_PING_INTERVAL": "0"})
    reader, writer = await _open(server.port)
    try:
        assert await _frames(reader, 1.5) == []
    finally:
        writer.close()


def _pong(payload: bytes) -> bytes:
    """A masked pong frame (clients mask), echoing the ping's payload."""
    mask = os.urandom(4)
    return bytes((0x8A, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_a_client_that_answers_stays_connected_and_keeps_being_pinged(
    start_runtime, services_env
) -> None:
    server = start_runtime({**services_env, "STARS_WS_PING_INTERVAL": "0.3", "STARS_WS_PING_TIMEOUT": "0.3"})
    reader, writer = await _open(server.port)
    pings = 0
    try:
        deadline = time.monotonic() + 2.5  # more than five intervals and timeouts
        while time.monotonic() < deadline:
            frames = await _frames(reader, 0.1)
            for opcode, payload in frames:
                assert opcode == 9, frames  # pings only: never a close
                pings += 1
                writer.write(_pong(payload))
            await writer.drain()
        assert pings >= 4
        assert metric(server, "stars_keepalive_timeouts_total") == 0
    finally:
        writer.close()


async def test_unanswered_pings_are_counted(start_runtime, services_env) -> None:
    server = start_runtime({**services_env, "STARS_WS_PING_INTERVAL": "0.2", "STARS_WS_PING_TIMEOUT": "0.2"})
    opened = [await _open(server.port) for _ in range(3)]
    try:
        for reader, _ in opened:
            frames = await _frames(reader, 3.0)
            assert frames[-1][0] == 8 and int.from_bytes(frames[-1][1][:2], "big") == 1011
        assert metric(server, "stars_keepalive_timeouts_total") == 3
    finally:
        for _, writer in opened:
            writer.close()
