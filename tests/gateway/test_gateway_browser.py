"""The try-it page in a real browser: Debian's Chromium driven by Playwright, against the real gateway
and the simulator. No browser is downloaded: the test fails (never skips) without /usr/bin/chromium."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from rxbybit.gateway import Gateway, UserStore

from .conftest import ALICE_KEY, ALICE_SECRET


async def _send(page: Page, endpoint: str, body: str | None = None) -> None:
    card = page.locator(f'[data-endpoint="{endpoint}"]')
    if body is not None:
        await card.locator("textarea").fill(body)
    await card.locator("button.send").click()


async def test_pick_an_endpoint_send_it_and_watch_live_messages(gateway: Gateway, store: UserStore,
                                                               browser: Browser) -> None:
    token = store.add("alice", ALICE_KEY, ALICE_SECRET)
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(gateway.http_url)
    await expect(page.locator("#status")).to_have_text("connected", timeout=10_000)
    log = page.locator("#log")

    await _send(page, "external-subscribe",
                '{"path": "/external", "payload": {"direction": "linear", "op": "subscribe", '
                '"args": ["tickers.BTCUSDT"]}}')
    await expect(log.locator("div.ack", has_text="/external/linear/tickers.BTCUSDT").first).to_be_visible()
    await expect(log.locator("div.event", has_text='"topic":"tickers.BTCUSDT"').first).to_be_visible(timeout=10_000)

    await _send(page, "symbols")
    await expect(log.locator("div.event", has_text='"event":"list"').first).to_be_visible()

    await _send(page, "profile")
    await expect(log.locator("div.error", has_text="needs authorization").first).to_be_visible()

    await page.fill("#token", token)
    await _send(page, "authorization")
    await expect(log.locator("div.ack", has_text='"user":"alice"').first).to_be_visible()
    await _send(page, "profile")
    await expect(log.locator("div.ack", has_text='"subscribed":"/user/profile"').first).to_be_visible()
    await _send(page, "notifications")
    # notify reaches only subscribed sessions: wait for the ack (the request was only sent so far)
    await expect(log.locator("div.ack", has_text='"subscribed":"/user/notifications"').first).to_be_visible()
    assert gateway.notify("alice", "Hello", "from the test")
    await expect(log.locator("div.event", has_text="from the test").first).to_be_visible()

    await _send(page, "unsubscribe")
    await expect(log.locator("div.ack", has_text='"unsubscribed":"/external/linear/tickers.BTCUSDT"').first
                 ).to_be_visible()
    await _send(page, "symbols", "{not json")
    await expect(log.locator("div.error", has_text="not JSON").first).to_be_visible()
    await _send(page, "symbols", '{"path": "/nowhere"}')
    await expect(log.locator("div.error", has_text='"code":4004').first).to_be_visible()
    assert await page.locator("#log div").count() <= 500, "the log is bounded"
    assert not problems, problems
    await page.close()
