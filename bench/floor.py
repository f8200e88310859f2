"""The floor under any fan-out here: what one ``transport.write`` of a small frame costs on loopback TCP.

A server process writes one pre-encoded ~150-byte WebSocket frame to each of N accepted sockets (no
framework, no per-socket Python beyond the call) and reads its own CPU time around the loop; a client
process reads and discards. On loopback the sender's ``send()`` also runs the receiver's TCP path, so
this is the least CPU a delivery can cost in this setup, whatever the server does in Python. Writing
several frames per ``write`` shows what batching per socket would save.

``python -m bench floor --connections 2000 --rounds 50``
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any, cast

import uvloop

from bench import procs
from bench.loadclient import raise_nofile
from bench.sendpath import per_delivery_us, runtime_rt

FRAME_PAYLOAD = (
    b'{"type":"message","channel":"room:all","offset":123,"data":{"w":1,"s":42,"t":1764230000.123456,'
    b'"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}'
)


def _frame(payload: bytes) -> bytes:
    n = len(payload)
    head = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + n.to_bytes(2, "big")
    return head + payload


class _Sink(asyncio.Protocol):
    def __init__(self, counter: list[int]) -> None:
        self.counter = counter

    def data_received(self, data: bytes) -> None:
        self.counter[0] += len(data)


async def _client(port: int, n: int, ips: int) -> None:
    """Open n connections (over several source addresses) and discard what arrives."""
    raise_nofile()
    loop = asyncio.get_running_loop()
    counter = [0]
    for i in range(n):
        await loop.create_connection(
            lambda: _Sink(counter), "127.0.0.1", port, local_addr=(f"127.0.0.{2 + i % ips}", 0)
        )
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)


async def run_floor(connections: int = 2000, rounds: int = 50, batch: int = 4) -> dict[str, Any]:
    raise_nofile()
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []
    accepted = asyncio.Event()

    class _Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(cast(asyncio.Transport, transport))  # a TCP connection's transport
            if len(transports) >= connections:
                accepted.set()

    server = await loop.create_server(_Accept, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    client = procs.spawn(
        [procs.PYTHON, "-m", "bench.floor", "--client", str(port), str(connections)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        await asyncio.wait_for(accepted.wait(), 120)
        await asyncio.sleep(0.5)
        frame = _frame(FRAME_PAYLOAD)
        out: dict[str, Any] = {"connections": connections, "rounds": rounds, "frame_bytes": len(frame)}
        for label, data, frames in (
            ("1 frame per write", frame, 1),
            (f"{batch} frames per write", frame * batch, batch),
        ):
            cpu = 0.0
            for _ in range(rounds):
                c0 = time.process_time()
                for t in transports:
                    t.write(data)
                cpu += time.process_time() - c0
                await asyncio.sleep(0.02)  # let the reader drain, as between messages
            out[label] = round(cpu / (rounds * connections * frames) * 1e6, 2)

        text = FRAME_PAYLOAD.decode()
        out["runtime send path"] = round(await per_delivery_us(transports, text, rounds, runtime_rt(), []), 2)
        # Python-only cost of the loop, for comparison: the same iteration with no system call.
        sink: list[bytes] = []
        c0 = time.process_time()
        for _ in range(rounds):
            for _t in transports:
                sink.append(frame)
            sink.clear()
        out["loop without write"] = round((time.process_time() - c0) / (rounds * connections) * 1e6, 3)
        return out
    finally:
        for t in transports:
            t.close()
        server.close()
        procs.stop(client)


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--client":
        uvloop.run(_client(int(argv[1]), int(argv[2]), 8))
        return
    args = dict(zip(argv[::2], argv[1::2], strict=False))
    result = uvloop.run(
        run_floor(
            int(args.get("--connections", 2000)), int(args.get("--rounds", 50)), int(args.get("--batch", 4))
        )
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
