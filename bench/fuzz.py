"""Protocol fuzzing against a live server: frames from the protocol's grammar and mutations of it.

``frames()`` draws client frames: the four frame types and unknown ones; channel names valid, near
valid (a final newline, glob characters, 129 characters, non-strings) and forbidden; ``since`` and
``id`` at and past every bound (negative, 2**63 - 1, 2**63, 2**64, floats, booleans, objects, 64 and
65 characters, lone surrogates); ``data`` of any JSON shape with NaN, Infinity and numbers that
overflow, unicode edge cases and nesting around the depth limit; then mutations of the text
(truncation, a character inserted or replaced, duplicated keys, binary frames, oversized frames).

``Probe`` sends each frame on one connection, then a frame of an unknown type with a unique ``id``,
and reads everything up to the error that answers it (the server handles a connection's frames in
order). It checks after every frame: each
reply is strict JSON (no NaN, valid UTF-8) and a documented frame type; each error has a documented
code; a close has a documented close code (then it reconnects). ``finish()`` checks the stores:
every channel's history (REST) is strict JSON and holds exactly the acknowledged offsets (nothing
that was not acknowledged is stored), a subscriber on another connection received the same messages
in order, and the server's log has no traceback.

``python -m bench fuzz --minutes N`` runs it for N minutes against a fresh server; the test suite runs
a bounded number of examples (``tests/runtime/test_runtime_fuzz.py``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as with_seed
from hypothesis import strategies as st

from bench.servers import RuntimeServer, postgres_server, redis_server
from runtime import protocol
from runtime.auth import issue

CHANNELS = ("fz:a", "fz:b", "fz:c")  # what the fuzz token may use
SERVER_TYPES = {f.type for f in protocol.SERVER_FRAMES}
ERROR_CODES = {e.code for e in protocol.ERRORS}
CLOSE_CODES = {c.code for c in protocol.CLOSES}


# -- the grammar ---------------------------------------------------------------------------------------

_edge_text = st.sampled_from(
    [
        "",
        "\x00",
        "\ud800",
        "\udfff",
        "\ud83d\ude00",
        "\u2028",
        "\ufeff",
        "é",
        "\\",
        '"',
        "\n",
        "a" * 64,
        "a" * 65,
    ]
)
texts = st.one_of(st.text(max_size=40), _edge_text)
_bounds = [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, 10**400]
ints = st.one_of(st.integers(min_value=-5, max_value=10**6), st.sampled_from(_bounds))
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, 1.5, -0.0]))
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=20,
)
channels = st.one_of(
    st.sampled_from(CHANNELS),
    st.sampled_from(["fz:a\n", "fz:*", "fz:" + "x" * 126, "fz:" + "x" * 125, "room:x", "", "fz:a b", "fz:é"]),
    scalars,
)
kinds = st.one_of(st.sampled_from(["publish", "subscribe", "unsubscribe", "ping"]), scalars)


@st.composite
def nested(draw: st.DrawFn) -> Any:
    """Arrays and objects nested around the depth limit (the frame's object is one level)."""
    depth = draw(st.sampled_from([protocol.MAX_DEPTH - 2, protocol.MAX_DEPTH - 1, protocol.MAX_DEPTH, 200]))
    value: Any = draw(scalars)
    for _ in range(depth):
        value = [value] if draw(st.booleans()) else {"k": value}
    return value


@st.composite
def frame_objects(draw: st.DrawFn) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": draw(kinds)}
    if draw(st.booleans()):
        frame["channel"] = draw(channels)
    if draw(st.booleans()):
        frame["id"] = draw(st.one_of(scalars, json_values))
    if draw(st.integers(0, 3)) == 0:
        frame["since"] = draw(st.one_of(ints, scalars))
    if draw(st.integers(0, 3)) > 0:
        frame["data"] = draw(st.one_of(json_values, nested()))
    if draw(st.integers(0, 5)) == 0:
        frame[draw(texts)] = draw(json_values)
    return frame


class RawText(bytes):
    """Bytes sent in a *text* frame: how a client with the wrong encoding (or none) would send them."""


def _dumps(obj: Any, ascii_only: bool) -> str:
    try:
        return json.dumps(obj, allow_nan=True, ensure_ascii=ascii_only)
    except (ValueError, RecursionError):
        return json.dumps(repr(obj)[:1000])


finite_values = st.recursive(
    st.one_of(st.none(), st.booleans(), ints, st.floats(allow_nan=False, allow_infinity=False), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=20,
)


@st.composite
def valid_frames(draw: st.DrawFn) -> dict[str, Any]:
    """Frames the server should accept (most of them), so that acknowledgements and stores are exercised."""
    kind = draw(st.sampled_from(["publish", "publish", "subscribe", "unsubscribe"]))
    frame: dict[str, Any] = {"type": kind, "channel": draw(st.sampled_from([*CHANNELS, "room:no"]))}
    if kind == "publish":
        frame["data"] = draw(finite_values)
    elif kind == "subscribe" and draw(st.booleans()):
        frame["since"] = draw(st.integers(0, 50))
    if draw(st.booleans()):
        frame["id"] = draw(st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=64)))
    return frame


@st.composite
def frames(draw: st.DrawFn) -> str | bytes:
    """One client frame: text (str), binary (bytes) or text in some encoding (RawText)."""
    obj = draw(st.one_of(valid_frames(), frame_objects()))
    text = _dumps(obj, ascii_only=True)
    try:
        unicode_text = _dumps(obj, ascii_only=False)
        unicode_text.encode()
        if draw(st.booleans()):
            text = unicode_text
    except UnicodeEncodeError:  # a lone surrogate can only travel escaped
        pass
    mutation = draw(st.sampled_from([None] * 13 + list(range(7))))  # None (first: what shrinks to): as drawn
    if mutation == 0 and text:
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif mutation == 1 and text:
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + draw(st.sampled_from(list('{}[],:"\\ 0-eNI'))) + text[i + 1 :]
    elif mutation == 2:
        text = text[:-1] + ',"type":"publish"}' if text.endswith("}") else text
    elif mutation == 3:
        return draw(st.binary(max_size=64))
    elif mutation == 4:
        text = draw(st.sampled_from(["NaN", "[", "{", "null", "1e999", '"x"', "[" * 2000, '{"type":"ping"']))
    elif mutation == 5 and draw(st.integers(0, 9)) == 0:
        text += " " * 70_000  # past STARS_MAX_FRAME_BYTES: closed with 1009
    elif mutation == 6:  # encodings: invalid UTF-8 (closed with 1007), or valid bytes sent raw
        raw = text.encode("utf-8", "surrogatepass")
        i = draw(st.integers(0, len(raw)))
        return RawText(
            draw(
                st.sampled_from(
                    [
                        raw[:i] + b"\xff" + raw[i:],
                        raw[:i] + b"\xc3",
                        text.encode("utf-16"),
                        text.encode("latin-1", "replace") + "é".encode("latin-1"),
                        raw,
                    ]
                )
            )
        )
    if "\ud800" in text or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


# -- checking a live server ------------------------------------------------------------------------------


def strict_loads(raw: str | bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in a server frame")

    return json.loads(raw, parse_constant=refuse)


@dataclass
class Findings:
    frames: int = 0
    replies: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    closes: dict[int, int] = field(default_factory=dict)
    acked: dict[str, set[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Probe:
    """One fuzzing connection (reconnected after a close) and one subscriber of every fuzz channel."""

    def __init__(
        self, ws_url: str, http_url: str, token: str, log: Callable[[], str], max_frame: int
    ) -> None:
        self.ws_url = ws_url
        self.http_url = http_url
        self.token = token
        self.log = log
        self.max_frame = max_frame
        self.found = Findings()
        self.conn: Any = None
        self.watch: Any = None
        self.seen: dict[str, list[tuple[int, Any]]] = {c: [] for c in CHANNELS}
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.watch = await websockets.connect(self.ws_url, open_timeout=10, max_size=2**22)
        for ch in CHANNELS:
            await self.watch.send(json.dumps({"type": "subscribe", "channel": ch}))
            reply = strict_loads(await asyncio.wait_for(self.watch.recv(), 10))
            assert reply["type"] == "subscribed", reply
        self._watcher = asyncio.create_task(self._watch())
        await self._connect()

    async def _connect(self) -> None:
        self.conn = await websockets.connect(self.ws_url, open_timeout=10, max_size=2**22, ping_interval=None)

    async def _watch(self) -> None:
        async for raw in self.watch:
            frame = strict_loads(raw)
            if frame.get("type") == "message":
                self.seen[frame["channel"]].append((frame["offset"], frame["data"]))

    def _problem(self, text: str) -> None:
        if len(self.found.problems) < 50:
            self.found.problems.append(text)

    async def check(self, frame: str | bytes) -> None:
        """Send one frame and read every reply up to the sentinel's; record what breaks the contract."""
        self.found.frames += 1
        try:
            await self.conn.send(frame, text=True if isinstance(frame, RawText) else None)
            # The end of the replies: an error frame carrying this frame's number (a ping would not do:
            # the fuzzed frame may be a ping too, and pongs carry no id).
            sentinel = f"fuzz-end-{self.found.frames}"
            await self.conn.send(json.dumps({"type": "fuzz-end", "id": sentinel}))
            while True:
                raw = await asyncio.wait_for(self.conn.recv(), 15)
                self.found.replies += 1
                try:
                    reply = strict_loads(raw)
                except ValueError as exc:
                    self._problem(f"not strict JSON: {raw[:200]!r} ({exc}) after {frame[:200]!r}")
                    continue
                kind = reply.get("type") if isinstance(reply, dict) else None
                if kind not in SERVER_TYPES:
                    self._problem(f"undocumented frame {reply!r:.200} after {frame[:200]!r}")
                elif kind == "error" and reply.get("id") == sentinel:
                    return
                elif kind == "error":
                    code = reply.get("code")
                    self.found.errors[code] = self.found.errors.get(code, 0) + 1
                    if code not in ERROR_CODES or code == "internal":
                        self._problem(f"error {code!r} after {frame[:200]!r}: {reply.get('message')}")
                elif kind == "ack":
                    self.found.acked.setdefault(reply["channel"], set()).add(reply["offset"])
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            if code is None and len(frame) > self.max_frame:
                code = protocol.TOO_BIG.code  # closed while the client still sent: TCP reset the close frame
            self.found.closes[code or 0] = self.found.closes.get(code or 0, 0) + 1
            if code not in CLOSE_CODES:
                self._problem(f"close {code} after {frame[:200]!r}")
            await self._connect()
        except TimeoutError:
            self._problem(f"no reply within 15 s after {frame[:200]!r}")
            await self.conn.close()
            await self._connect()

    async def finish(self) -> Findings:
        """Compare what was acknowledged, stored and delivered; look for tracebacks in the log."""
        await asyncio.sleep(0.5)
        for ch in CHANNELS:
            stored = await asyncio.to_thread(self._history, ch)
            offsets = [m["offset"] for m in stored]
            acked = sorted(self.found.acked.get(ch, set()))
            if offsets != acked:
                self._problem(f"{ch}: stored {len(offsets)} offsets, acknowledged {len(acked)}")
            deadline = time.monotonic() + 10
            while len(self.seen[ch]) < len(stored) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if [o for o, _ in self.seen[ch]] != offsets:
                got = [o for o, _ in self.seen[ch]]
                self._problem(f"{ch}: the subscriber got offsets {got[-5:]}, stored {offsets[-5:]}")
            elif [d for _, d in self.seen[ch]] != [m["data"] for m in stored]:
                self._problem(f"{ch}: delivered data differs from the stored data")
        log = self.log()
        for marker in ("Traceback", "RecursionError", " ERROR "):
            if marker in log:
                at = log.index(marker)
                self._problem(f"server log has {marker.strip()}: {log[max(0, at - 300) : at + 300]}")
        if self._watcher is not None:
            self._watcher.cancel()
        await self.watch.close()
        await self.conn.close()
        return self.found

    def _history(self, ch: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        since = 0
        while True:
            req = urllib.request.Request(
                f"{self.http_url}/api/channels/{ch}/messages?since={since}&limit=1000",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                page = strict_loads(r.read())["messages"]
            messages += page
            if len(page) < 1000:
                return messages
            since = page[-1]["offset"]


def run_examples(
    probe: Probe, loop: asyncio.AbstractEventLoop, examples: int, seed: int | None = None
) -> None:
    """Draw ``examples`` frames with Hypothesis and check each on the probe (running on ``loop``)."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=seed is None,
    )
    @given(frames())
    def one(frame: str | bytes) -> None:
        asyncio.run_coroutine_threadsafe(probe.check(frame), loop).result(60)

    if seed is not None:
        one = with_seed(seed)(one)
    one()


def summary(found: Findings, seconds: float) -> dict[str, Any]:
    return {
        "frames": found.frames,
        "frames_per_s": round(found.frames / seconds, 1) if seconds else None,
        "replies": found.replies,
        "acknowledged": sum(len(v) for v in found.acked.values()),
        "errors_by_code": dict(sorted(found.errors.items(), key=lambda kv: str(kv[0]))),
        "closes_by_code": dict(sorted(found.closes.items())),
        "findings": found.problems,
    }


def run_fuzz(seconds: float = 0.0, examples: int = 200, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Redis, PostgreSQL and one runtime server on loopback; rounds of ``examples`` frames until
    ``seconds`` have passed (at least one round); then the final checks. Everything is stopped."""
    secret = secrets.token_urlsafe(32)
    with redis_server() as redis, postgres_server() as pg:
        env = {"STARS_JWT_SECRET": secret, "STARS_REDIS_URL": redis.url, "STARS_DATABASE_URL": pg.url,
               "STARS_PUBLISH_RATE": "100000", "STARS_PUBLISH_BURST": "100000"}  # fmt: skip
        server = RuntimeServer(env).start()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fuzz-loop", daemon=True)
        thread.start()
        try:
            token = issue(secret, "fuzz", ["fz:*"], ["fz:*"], ttl=int(seconds) + 3600)
            probe = Probe(server.ws(token), server.http, token, server.logs, max_frame=64 * 1024)
            asyncio.run_coroutine_threadsafe(probe.start(), loop).result(30)
            started = time.monotonic()
            rounds = 0
            while rounds == 0 or time.monotonic() - started < seconds:
                run_examples(
                    probe, loop, examples, seed=None if seconds == 0 else rounds + secrets.randbelow(2**31)
                )
                rounds += 1
                if seconds:
                    found = probe.found
                    log(f"   round {rounds}: {found.frames:,} frames, {len(found.problems)} findings")
            found = asyncio.run_coroutine_threadsafe(probe.finish(), loop).result(120)
            return summary(found, time.monotonic() - started)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            server.stop()
