"""The embedded default (no Redis, SQLite) and the demo page in headless Chromium."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from bench.servers import RuntimeServer
from tests.browser import chromium
from tests.runtime.helpers import Client, token


@pytest.fixture
def embedded():
    """A bare-machine run: no STARS_* variables at all, so a generated secret and SQLite in the cwd."""
    cwd = Path(tempfile.mkdtemp(prefix="stars-embedded-"))
    server = RuntimeServer({}, cwd=cwd)
    server.env.pop("STARS_JWT_SECRET", None)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(cwd, ignore_errors=True)


@pytest.mark.asyncio
async def test_embedded_default_runs_without_redis_or_postgres(embedded: RuntimeServer) -> None:
    assert (embedded.cwd / "var/stars-runtime.db").exists()
    status, ready = embedded.get("/readyz")
    assert status == 200 and ready == {"status": "ready", "database": True, "broker": True}
    status, body = embedded.get("/demo/token")
    assert status == 200
    demo = body["token"]
    # the demo token is narrow: demo:* only
    assert embedded.post("/api/channels/room:x/messages", {"data": 1}, token=demo)[0] == 403
    ch = "demo:" + uuid.uuid4().hex[:6]
    async with await Client.connect(embedded.ws(demo)) as a, await Client.connect(embedded.ws(demo)) as b:
        await a.subscribe(ch)
        for i in range(20):
            await b.send({"type": "publish", "channel": ch, "data": {"n": i}, "id": i})
            assert (await b.expect("ack"))["offset"] == i + 1
        assert await a.messages(ch, 20) == list(range(1, 21))
        await b.subscribe(ch, since=15)
        assert await b.messages(ch, 20) == [16, 17, 18, 19, 20]
        status, presence = embedded.get(f"/api/channels/{ch}/presence", token=demo)
        assert status == 200 and presence["users"] == [{"sub": "demo-guest", "connections": 2}]
    # tokens signed with another secret (the generated one is unknown to outsiders) are refused
    assert embedded.post(f"/api/channels/{ch}/messages", {"data": 1}, token=token())[0] == 401


def test_demo_token_needs_a_generated_secret(start_runtime, tmp_path) -> None:
    server = start_runtime({}, cwd=tmp_path)  # STARS_JWT_SECRET set by the fixture
    assert server.get("/demo/token")[0] == 404


def test_token_cli_prints_a_token_the_server_accepts(tmp_path) -> None:
    import subprocess

    from runtime.auth import verify

    env = {**os.environ, "STARS_JWT_SECRET": "cli-secret-of-at-least-thirty-two-bytes", "PYTHONPATH": "."}
    out = subprocess.run(
        [sys.executable, "-m", "runtime", "token", "--sub", "alice", "--subscribe", "room:*",
         "--publish", "room:*,chat:*", "--ttl", "60"],
        env=env, capture_output=True, text=True, check=True, timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    claims = verify("cli-secret-of-at-least-thirty-two-bytes", out.stdout.strip())
    assert claims.sub == "alice" and claims.publish == ("room:*", "chat:*")
    assert claims.may_subscribe("room:1") and not claims.may_subscribe("chat:1")


@pytest.mark.browser
def test_demo_page_in_headless_chromium(embedded: RuntimeServer) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        first = browser.new_page()
        second = browser.new_page()
        for page in (first, second):
            page.goto(embedded.http + "/")
            expect(page.locator("#status")).to_have_text("connected", timeout=15000)
            expect(page.locator("#log")).to_contain_text("subscribed to demo:lobby", timeout=15000)
        first.fill("#text", "hello from the first tab")
        first.click("button[type=submit]")
        for page in (first, second):  # both tabs show it live
            expect(page.locator("#log li.message")).to_contain_text(
                ["#1 demo:lobby: hello from the first tab"], timeout=15000
            )
