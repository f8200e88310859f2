"""The least a WebSocket costs under uvicorn with our settings: accept, say "subscribed", wait.

No framework, no per-connection state of ours: its memory per idle connection is the floor that
uvicorn (httptools + websockets-sansio, deflate off) and the ASGI task impose, against which the
runtime's figure can be read.
"""

from __future__ import annotations

from typing import Any

SUBSCRIBED = '{"type":"subscribed","channel":"room:0","offset":0}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": SUBSCRIBED})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
