"""The demo page runs on the JavaScript client: it shows the connection state, and after an outage
the messages it missed arrive and are reported as a recovered gap."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.clients.proxy import TcpProxy
from bench.servers import RuntimeServer

pytestmark = [pytest.mark.browser]


@pytest.fixture
def demo() -> Iterator[tuple[RuntimeServer, TcpProxy]]:
    """An embedded server with a generated secret (so /demo/token answers), behind the proxy."""
    server = RuntimeServer({})
    server.env.pop("STARS_JWT_SECRET", None)
    server.start()
    proxy = TcpProxy(server.port).start()
    try:
        yield server, proxy
    finally:
        proxy.stop()
        server.stop()


def test_demo_page_shows_state_and_recovers_a_gap(demo, browser) -> None:
    from playwright.sync_api import expect

    server, proxy = demo
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{proxy.port}/")
    expect(page.locator("#status")).to_have_text("connected", timeout=15000)
    expect(page.locator("#log")).to_contain_text("subscribed to demo:lobby at offset 0", timeout=15000)
    page.fill("#text", "before")
    page.click("button[type=submit]")
    expect(page.locator("#log li.message")).to_contain_text(["#1 demo:lobby: before"], timeout=15000)
    proxy.refuse = True
    proxy.reset()
    expect(page.locator("#status")).to_contain_text("disconnected", timeout=15000)
    demo_token = server.get("/demo/token")[1]["token"]
    for text in ("missed 1", "missed 2", "missed 3"):
        assert server.post("/api/channels/demo:lobby/messages", {"data": text}, token=demo_token)[0] == 201
    proxy.refuse = False
    expect(page.locator("#status")).to_have_text("connected", timeout=15000)
    expect(page.locator("#log li.recovered")).to_contain_text(
        ["recovered 3 missed message(s) on demo:lobby (#2–#4)"], timeout=15000
    )
    expect(page.locator("#log li.message")).to_have_text(
        ["#1 demo:lobby: before", "#2 demo:lobby: missed 1", "#3 demo:lobby: missed 2",
         "#4 demo:lobby: missed 3"]
    )  # fmt: skip
    assert errors == []
    page.close()
