"""Keepalive's bookkeeping without a server: who is pinged when, who is failed, and that one broken
socket does not cost the others their pings."""

from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar

import pytest

from runtime.keepalive import PING_FRAME, Keepalive
from runtime.protocol import KEEPALIVE_TIMEOUT

CLOSE_KEEPALIVE_TIMEOUT = KEEPALIVE_TIMEOUT.code


class FakeDirect:
    def __init__(self, hookable: bool = True, broken: bool = False) -> None:
        self.hookable, self.broken = hookable, broken
        self.writes: list[bytes] = []
        self.failed: tuple[int, str] | None = None
        self.on_pong_callback: Any = None

    def on_pong(self, callback: Any) -> bool:
        self.on_pong_callback = callback
        return self.hookable

    def open(self) -> bool:
        return self.failed is None

    def write(self, frame: bytes) -> None:
        if self.broken:
            raise OSError("broken socket")
        self.writes.append(frame)

    def fail(self, code: int, reason: str) -> None:
        self.failed = (code, reason)


#: The socket a fake connection holds: a FakeDirect, or None for a connection without one.
DirectT = TypeVar("DirectT", bound=FakeDirect | None)


class FakeConn(Generic[DirectT]):
    def __init__(self, keepalive: Keepalive, direct: DirectT) -> None:
        self.keepalive, self.direct = keepalive, direct
        self.closing = False
        self.ping_sent = 0.0

    def pong(self, frame: object = None) -> None:
        self.keepalive.pong(self)


def _conns(keepalive: Keepalive, n: int, **kw: Any) -> list[FakeConn[FakeDirect]]:
    conns = [FakeConn(keepalive, FakeDirect(**kw)) for _ in range(n)]
    for c in conns:
        keepalive.add(c)
    return conns


def test_ping_after_the_interval_then_fail_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("runtime.keepalive.time.monotonic", lambda: clock[0])
    keepalive = Keepalive(interval=20, timeout=10)
    keepalive.due = type(keepalive.due)(now=1000.0, resolution=1.0)
    answering, silent = _conns(keepalive, 2)
    keepalive.sweep(1019.0)
    assert answering.direct.writes == [] and silent.direct.writes == []  # not before the interval
    keepalive.sweep(1020.0)
    assert answering.direct.writes == [PING_FRAME] and silent.direct.writes == [PING_FRAME]
    clock[0] = 1021.0
    answering.direct.on_pong_callback()  # only this one answers
    keepalive.sweep(1030.0)
    assert silent.direct.failed == (CLOSE_KEEPALIVE_TIMEOUT, "keepalive ping timeout")
    assert answering.direct.failed is None
    keepalive.sweep(1041.0)  # next ping one interval after the pong
    assert answering.direct.writes == [PING_FRAME, PING_FRAME]
    assert len(silent.direct.writes) == 1  # a failed socket is not pinged again


def test_closing_sockets_are_skipped_and_an_unsolicited_pong_changes_nothing() -> None:
    keepalive = Keepalive(interval=1, timeout=1)
    keepalive.due = type(keepalive.due)(now=0.0, resolution=0.25)
    (conn,) = _conns(keepalive, 1)
    keepalive.due.add(conn, 1.0)
    conn.pong()  # no ping sent yet: nothing is rescheduled
    assert len(keepalive.due) == 1
    conn.closing = True
    keepalive.sweep(2.0)
    assert conn.direct.writes == [] and len(keepalive.due) == 0


def test_one_broken_socket_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    keepalive = Keepalive(interval=1, timeout=1)
    keepalive.due = type(keepalive.due)(now=0.0, resolution=1.0)
    conns = _conns(keepalive, 3) + _conns(keepalive, 1, broken=True) + _conns(keepalive, 3)
    for c in conns:
        keepalive.due.add(c, 1.0)
    with caplog.at_level(logging.ERROR, logger="runtime.keepalive"):
        keepalive.sweep(1.0)
    assert sum(len(c.direct.writes) for c in conns) == 6
    assert "keepalive failed for one connection" in caplog.text


def test_without_a_pong_hook_sockets_are_not_tracked_and_it_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keepalive = Keepalive(interval=20, timeout=20)
    with caplog.at_level(logging.WARNING, logger="runtime.keepalive"):
        _conns(keepalive, 3, hookable=False)
        keepalive.add(FakeConn(keepalive, None))
    assert len(keepalive.due) == 0
    assert caplog.text.count("keepalive pings unavailable") == 1


def test_interval_zero_is_off() -> None:
    keepalive = Keepalive(interval=0, timeout=20)
    _conns(keepalive, 2)
    assert not keepalive.enabled and len(keepalive.due) == 0
