"""Frames encoded once must be byte-identical to what the websockets library sends."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from runtime.wire import Coalescer, text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_text_frame_matches_websockets(size: int) -> None:
    payload = ("é" * size)[: max(0, size // 2)] + "x" * (size - size // 2)
    expected = Frame(Opcode.TEXT, payload.encode()).serialize(mask=False)
    assert text_frame(payload) == expected


class FakeConnection:
    def __init__(self) -> None:
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


@pytest.mark.asyncio
async def test_coalescer_flushes_each_connection_once_per_loop_iteration() -> None:
    import asyncio

    co = Coalescer()
    a, b = FakeConnection(), FakeConnection()
    co.add(a)
    co.add(b)
    assert (a.flushes, b.flushes) == (0, 0), "nothing is written before the iteration ends"
    await asyncio.sleep(0)
    assert (a.flushes, b.flushes) == (1, 1)
    co.add(a)
    await asyncio.sleep(0)
    assert (a.flushes, b.flushes) == (2, 1)
