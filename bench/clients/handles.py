"""One interface to both clients, so the conformance and fault scenarios are written once and run twice.

``PyHandle`` runs the Python client on an event loop in a thread; ``JsHandle`` runs the JavaScript
client in headless Chromium, in a page that loaded it from the runtime at ``/client/stars.js``
(harness.js), and calls into it with ``page.evaluate``. Every call returns plain data: a publish
gives ``{"offset": n}`` or ``{"error": code}``, so the specs compare the two clients' answers as is.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLIENT_PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(CLIENT_PACKAGE) not in sys.path:  # the Python client is a package of its own, not installed here
    sys.path.insert(0, str(CLIENT_PACKAGE))

from stars_client import Client, StarsError  # noqa: E402

from runtime.auth import ISSUER, issue  # noqa: E402

# Short timings so faults resolve in seconds (defaults: 0.5/15/10/10 s).
FAST = {"backoff_base": 0.1, "backoff_max": 1.0, "ping_interval": 0.5, "pong_timeout": 0.5,
        "publish_timeout": 5.0}  # fmt: skip
CLAIMS: dict[str, Any] = {"sub": "conformer", "subscribe": ["room:*"], "publish": ["room:*"]}


def camel(options: dict[str, Any]) -> dict[str, Any]:
    def convert(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {convert(k): v for k, v in options.items()}


class PyHandle:
    kind = "python"

    def __init__(self, secret: str) -> None:
        self.secret = secret  # the servers' STARS_JWT_SECRET: the handle issues its client's tokens
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="py-client")
        self.thread.start()
        self.client: Client | None = None
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.offsets: dict[str, list[int]] = {}
        self.data: dict[str, list[Any]] = {}
        self.token_calls = 0

    def _run(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(
        self,
        urls: list[str],
        options: dict[str, Any] | None = None,
        *,
        fail_calls: tuple[int, ...] = (),  # token callback calls (1-based) that throw
        ttl: int = 3600,
        connect: bool = True,
    ) -> None:
        def token() -> str:
            self.token_calls += 1
            if self.token_calls in fail_calls:
                raise RuntimeError(f"token service down (call {self.token_calls})")
            return issue(self.secret, CLAIMS["sub"], CLAIMS["subscribe"], CLAIMS["publish"], ttl)

        async def make() -> None:
            self.client = Client(urls, token, **{**FAST, **(options or {})})
            for name in ("state", "disconnected", "resubscribed", "recovered", "error", "connected"):
                self.client.on(name, functools.partial(self._log_event, name))
            self.client.on("message", self._record)
            if connect:
                await self.client.connect(timeout=20)

        self._run(make())

    def connect(self) -> None:
        assert self.client is not None
        self._run(self.client.connect(timeout=20))

    def _log_event(self, name: str, payload: dict[str, Any]) -> None:
        self.events.append((name, payload))

    def _record(self, message: dict[str, Any]) -> None:
        self.offsets.setdefault(message["channel"], []).append(message["offset"])
        self.data.setdefault(message["channel"], []).append(message["data"])

    async def _answer(self, call: Any) -> dict[str, Any]:
        try:
            return {"value": await call}
        except StarsError as exc:
            return {"error": exc.code, "status": exc.status}

    def subscribe(self, channel: str, since: int | None = None) -> dict[str, Any]:
        assert self.client is not None
        return self._run(self._answer(self.client.subscribe(channel, since=since)))

    def unsubscribe(self, channel: str) -> dict[str, Any]:
        assert self.client is not None
        return self._run(self._answer(self.client.unsubscribe(channel)))

    def publish(self, channel: str, data: Any) -> dict[str, Any]:
        return self.publish_many(channel, [data])[0]

    def publish_many(self, channel: str, items: list[Any]) -> list[dict[str, Any]]:
        """All at once (concurrently), answers in order."""
        assert self.client is not None
        client = self.client

        async def go() -> list[dict[str, Any]]:
            return list(await asyncio.gather(*(self._answer(client.publish(channel, d)) for d in items)))

        return [{"offset": a["value"]} if "value" in a else a for a in self._run(go())]

    def publish_later(self, channel: str, items: list[Any]) -> Callable[[], list[dict[str, Any]]]:
        """Start publishing now (e.g. while offline); the returned function waits for the answers."""
        assert self.client is not None
        client = self.client
        futures = [asyncio.run_coroutine_threadsafe(self._answer(client.publish(channel, d)), self.loop)
                   for d in items]  # fmt: skip
        time.sleep(0.1)

        def answers() -> list[dict[str, Any]]:
            out = [f.result(30) for f in futures]
            return [{"offset": a["value"]} if "value" in a else a for a in out]

        return answers

    def history(self, channel: str, since: int = 0, limit: int = 100) -> dict[str, Any]:
        assert self.client is not None
        return self._run(self._answer(self.client.history(channel, since=since, limit=limit)))

    def presence(self, channel: str) -> dict[str, Any]:
        assert self.client is not None
        return self._run(self._answer(self.client.presence(channel)))

    def delivered(self, channel: str) -> list[int]:
        return list(self.offsets.get(channel, []))

    def payloads(self, channel: str) -> list[Any]:
        return list(self.data.get(channel, []))

    def state(self) -> str:
        assert self.client is not None
        return self.client.state

    def event_log(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self.events)

    def duplicates_dropped(self) -> int:
        assert self.client is not None
        return self.client.duplicates_dropped

    def page_errors(self) -> list[str]:
        return []

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        if self.client is not None:
            self._run(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


HARNESS = (Path(__file__).parent / "harness.js").read_text()


class JsHandle:
    """The JavaScript client in a Chromium page; each call is one ``page.evaluate``."""

    kind = "js"

    def __init__(self, browser: Any, origin: str, secret: str) -> None:
        self.secret = secret  # the servers' STARS_JWT_SECRET: the page issues its client's tokens
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.goto(origin + "/healthz")
        self.page.add_script_tag(content=HARNESS, type="module")
        self.page.wait_for_function("window.harness !== undefined", timeout=15000)

    def _call(self, method: str, *args: Any) -> Any:
        return self.page.evaluate(f"(args) => window.harness.{method}(...args)", list(args))

    def start(
        self,
        urls: list[str],
        options: dict[str, Any] | None = None,
        *,
        fail_calls: tuple[int, ...] = (),  # token callback calls (1-based) that throw
        ttl: int = 3600,
        connect: bool = True,
    ) -> None:
        claims = {**CLAIMS, "ttl": ttl, "iss": ISSUER}
        self._call(
            "start", urls, camel({**FAST, **(options or {})}), self.secret, claims, list(fail_calls), connect
        )

    def connect(self) -> None:
        self._call("connect")

    def subscribe(self, channel: str, since: int | None = None) -> dict[str, Any]:
        return self._call("subscribe", channel, since)

    def unsubscribe(self, channel: str) -> dict[str, Any]:
        return self._call("unsubscribe", channel)

    def publish(self, channel: str, data: Any) -> dict[str, Any]:
        return self.publish_many(channel, [data])[0]

    def publish_many(self, channel: str, items: list[Any]) -> list[dict[str, Any]]:
        return self._call("publishMany", channel, items)

    def publish_later(self, channel: str, items: list[Any]) -> Callable[[], list[dict[str, Any]]]:
        key = self._call("publishLater", channel, items)
        self.page.wait_for_timeout(100)
        return lambda: self._call("answers", key)

    def history(self, channel: str, since: int = 0, limit: int = 100) -> dict[str, Any]:
        return self._call("history", channel, since, limit)

    def presence(self, channel: str) -> dict[str, Any]:
        return self._call("presence", channel)

    def delivered(self, channel: str) -> list[int]:
        return self._call("delivered", channel)

    def payloads(self, channel: str) -> list[Any]:
        return self._call("payloads", channel)

    def state(self) -> str:
        return self._call("state")

    def event_log(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, payload) for name, payload in self._call("events")]

    def duplicates_dropped(self) -> int:
        return self._call("duplicatesDropped")

    def page_errors(self) -> list[str]:
        return self.errors + [f"unhandledrejection: {e}" for e in self._call("rejections")]

    def wait(self, seconds: float) -> None:
        self.page.wait_for_timeout(seconds * 1000)

    def close(self) -> None:
        try:
            self._call("close")
        finally:
            self.page.close()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
