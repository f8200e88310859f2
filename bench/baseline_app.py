"""The naive fan-out that users start from: broadcaster's README chat example, nearly verbatim.

One Starlette WebSocket endpoint; each socket runs a receiver (publish what it receives) and a sender
(``async with broadcast.subscribe(channel)`` and ``send_text`` per event). broadcaster keeps one
``asyncio.Queue`` per socket and awaits one ``put`` per subscriber per message.

Two additions so that a benchmark can drive it, neither on the per-delivery path:
- the channel comes from the query string (``/ws?channel=room:1``) instead of being fixed, and the
  socket gets one ``{"type":"subscribed"}`` frame once its subscription is live, so the harness knows
  when to start publishing;
- ``/publish`` is a WebSocket on which each text frame ``{"channel": C, ...}`` is published as is to C
  (the README's receiver, with the channel read from the message).

Run: ``STARS_REDIS_URL=redis://127.0.0.1:6379 uvicorn bench.baseline_app:app --workers 2`` (uvicorn's
defaults, i.e. per-message deflate on, are what the naive user gets).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from broadcaster import Broadcast
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

broadcast = Broadcast(os.environ.get("STARS_REDIS_URL", "redis://127.0.0.1:6379"))


async def chatroom_ws(websocket: WebSocket) -> None:
    channel = websocket.query_params.get("channel", "chatroom")
    await websocket.accept()
    async with anyio.create_task_group() as tg:  # starlette's run_until_first_complete, not deprecated

        async def receiver() -> None:
            try:
                async for message in websocket.iter_text():
                    await broadcast.publish(channel=channel, message=message)
            except WebSocketDisconnect:
                pass
            tg.cancel_scope.cancel()

        async def sender() -> None:
            async with broadcast.subscribe(channel=channel) as subscriber:
                await websocket.send_text(f'{{"type":"subscribed","channel":{json.dumps(channel)}}}')
                async for event in subscriber:  # type: ignore[union-attr]  # broadcaster 0.3.1: __aiter__ typed "| None"
                    await websocket.send_text(event.message)  # type: ignore[union-attr]  # never None: get() ends the loop
            tg.cancel_scope.cancel()

        tg.start_soon(receiver)
        tg.start_soon(sender)


async def publish_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        async for message in websocket.iter_text():
            await broadcast.publish(channel=json.loads(message)["channel"], message=message)
    except WebSocketDisconnect:
        pass


async def healthz(_request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    await broadcast.connect()
    try:
        yield
    finally:
        await broadcast.disconnect()


app = Starlette(
    routes=[
        WebSocketRoute("/ws", chatroom_ws),
        WebSocketRoute("/publish", publish_ws),
        Route("/healthz", healthz),
    ],
    lifespan=lifespan,
)
