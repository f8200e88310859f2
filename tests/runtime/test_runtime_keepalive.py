"""Server keepalive pings: STARS_WS_PING_INTERVAL sets their period (0: none), and a client that
never answers is closed with 1011 after STARS_WS_PING_TIMEOUT. Read with a bare RFC 6455 client so
that no library answers the pings for us."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import pytest

from tests.runtime.helpers import token

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
