"""Per-channel offsets: what the application has been given, what a resubscribe must recover.

Pure bookkeeping (no I/O), so the resume rules are in one place: deliver an offset only if it is the
next one (``last + 1``); drop what is not newer (a duplicate); a jump means something was missed and
the connection must be resumed from ``last``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DELIVER, DUPLICATE, GAP, IGNORE = "deliver", "duplicate", "gap", "ignore"


@dataclass
class Channel:
    name: str
    since: int | None  # asked for by the application on the first subscribe
    on_message: Callable[[dict[str, Any]], Any] | None = None
    last: int | None = None  # the last offset given to the application (None: not subscribed yet)
    subscribed: bool = False  # on the current connection
    recover_from: int | None = None  # the resubscribe's ``since``, while the gap is being replayed
    recover_to: int = 0  # the server's latest offset when it answered the resubscribe
    waiters: list[Any] = field(default_factory=list)  # subscribe() calls awaiting the first answer

    def subscribe_frame(self, ref: str) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "channel": self.name, "id": ref}
        since = self.last if self.last is not None else self.since
        if since is not None:
            frame["since"] = since
        return frame

    def on_subscribed(self, latest: int) -> dict[str, Any] | None:
        """The server's ``subscribed``; returns the ``resubscribed`` event for a resumed channel."""
        self.subscribed = True
        if self.last is None:
            if self.since is None:
                self.last = latest
            else:
                self.last = self.since
            return None
        event = {"channel": self.name, "since": self.last, "offset": latest}
        if latest > self.last:
            self.recover_from, self.recover_to = self.last, latest
        return event

    def classify(self, offset: int) -> str:
        if not self.subscribed or self.last is None:
            return IGNORE  # after an unsubscribe, or before the answer: nothing the app asked for
        if offset <= self.last:
            return DUPLICATE
        if offset > self.last + 1:
            return GAP
        return DELIVER

    def delivered(self, offset: int) -> dict[str, Any] | None:
        """Record ``offset`` as given to the app; returns the ``recovered`` event when a gap is closed."""
        self.last = offset
        if self.recover_from is not None and offset >= self.recover_to:
            event = {
                "channel": self.name,
                "from": self.recover_from + 1,
                "to": self.recover_to,
                "count": self.recover_to - self.recover_from,
            }
            self.recover_from = None
            return event
        return None

    def disconnected(self) -> None:
        self.subscribed = False
        self.recover_from = None
