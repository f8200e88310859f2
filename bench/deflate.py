"""permessage-deflate on realistic frames: bytes saved against CPU, to choose ``STARS_WS_DEFLATE``'s default.

Four kinds of server frame, made from a fixed seed with varied words, names and ids (not repeated
padding, which would flatter deflate): a short and a longer chat message, a presence list of 50
members, and a history page of 50 chat messages. For each: the frame's size plain and compressed as
the runtime sends it (``runtime.deflate.deflated_frame``, no context takeover, compressed once per
broadcast), the server's CPU to compress it once, that CPU per delivery at 10 (a room) and 2,000
subscribers, and the client's CPU to inflate it. The same run measures the plain frame's encoding
(``text_frame``) as the baseline, and a ``transport.write``'s cost comes from ``floor``.

``python -m bench deflate``
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable
from functools import partial
from typing import Any

from runtime.deflate import WINDOW_BITS, deflated_frame
from runtime.wire import text_frame

VOCABULARY = (
    "the a to and of in is it you that for on was with he as I his they be at one have this from or "
    "had by hot word but what some we can out other were all there when up use your how said an each "
    "she which do their time if will way about many then them write would like so these her long make "
    "thing see him two has look more day could go come did number sound no most people my over know "
    "water than call first who may down side been now find any new work part take get place made live "
    "where after back little only round man year came show every good me give our under name very "
    "meeting invoice delivery shipment Dar es Salaam Arusha Dodoma ok thanks tomorrow please confirm"
)
WORDS = VOCABULARY.split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _chat(rng: random.Random, offset: int, words: tuple[int, int] = (6, 20)) -> dict[str, Any]:
    return {
        "id": f"{rng.getrandbits(64):016x}",
        "user": f"user-{rng.randrange(100_000)}",
        "text": _text(rng, rng.randrange(*words)),
        "ts": 1_764_900_000 + offset * 3 + rng.random(),
    }


def frames(seed: int = 7) -> dict[str, str]:
    """Kind -> the server frame's text, as the runtime sends it (a ``message`` frame)."""
    rng = random.Random(seed)

    def message(offset: int, data: Any) -> str:
        return json.dumps(
            {"type": "message", "channel": "room:lobby", "offset": offset, "data": data},
            separators=(",", ":"),
        )

    presence = [
        {
            "id": f"{rng.getrandbits(48):012x}",
            "sub": f"user-{rng.randrange(100_000)}",
            "name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}",
            "status": rng.choice(["online", "away", "busy"]),
            "since": 1_764_900_000 + rng.randrange(86_400),
        }
        for _ in range(50)
    ]
    history = {"messages": [{"offset": 1000 + i, "data": _chat(rng, i)} for i in range(50)]}
    return {
        "short chat message": message(1233, _chat(rng, 0, (2, 4))),
        "chat message": message(1234, _chat(rng, 1)),
        "presence list (50 members)": message(1235, {"presence": presence}),
        "history page (50 messages)": message(1236, history),
    }


def _cpu_us(fn: Callable[[], object], repeat: int) -> float:
    c0 = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - c0) / repeat * 1e6


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj(-WINDOW_BITS)
    return d.decompress(data + b"\x00\x00\xff\xff")


def measure(repeat: int = 2000) -> dict[str, Any]:
    rows = []
    for kind, text in frames().items():
        plain = text_frame(text)
        packed = deflated_frame(plain, 1)
        payload = packed[2 + (2 if packed[1] & 0x7F == 126 else 0) :]  # frames here are under 64 KB
        assert _inflate(payload) == text.encode()
        compress_us = _cpu_us(partial(deflated_frame, plain, 1), repeat)
        rows.append(
            {
                "frame": kind,
                "plain_bytes": len(plain),
                "deflated_bytes": len(packed),
                "saved": round(1 - len(packed) / len(plain), 3),
                "encode_plain_us": round(_cpu_us(partial(text_frame, text), repeat), 2),
                "compress_once_us": round(compress_us, 2),
                "compress_us_per_delivery_at_10": round(compress_us / 10, 3),
                "compress_us_per_delivery_at_2000": round(compress_us / 2000, 4),
                "client_inflate_us": round(_cpu_us(partial(_inflate, payload), repeat), 2),
            }
        )
    return {"window_bits": WINDOW_BITS, "repeat": repeat, "frames": rows}


def main() -> None:
    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
