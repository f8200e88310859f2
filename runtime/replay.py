"""The ``since`` replay: a subscriber's history read from the database, paced by its outgoing queue.

While it runs, the hub buffers the subscription's live frames (``Subscription.replay``); when it ends,
``Hub.end_replay`` hands them over without gap or duplicate. The pace is the writer's: the replay
waits while the queue is over half its bound, so a replay never closes its own client as slow.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from runtime import protocol
from runtime.hub import PAGE

if TYPE_CHECKING:
    from runtime.config import Settings
    from runtime.hub import Subscription
    from runtime.outbox import Outbox
    from runtime.store import Store


async def replay(sub: Subscription, out: Outbox, store: Store, settings: Settings) -> None:
    """Send ``sub.channel``'s stored messages after ``sub.last``; StoreUnavailable if the database fails."""
    while not out.closing:
        rows = await store.fetch(sub.channel, sub.last, PAGE)
        for row in rows:
            while (
                out.backlog > settings.queue_messages // 2 or out.queued_bytes > settings.queue_bytes // 2
            ) and not out.closing:  # pace the replay by the writer, within the queue bound
                await asyncio.sleep(0.002)
            if row.offset > sub.last:
                sub.last = row.offset
                out.send_frame(protocol.message(sub.channel, row.offset, row.data))
        if len(rows) < PAGE:
            break
