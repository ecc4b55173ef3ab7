"""Fixtures and settings shared by every test folder.

- Hypothesis profiles: ``ci`` (chosen when ``CI`` is set) is derandomized, so a run is the same
  run every time, and prints the reproduction blob of any failure; ``dev`` explores at random.
- The real browser for the browser tests, and the frames/widgets render fixtures.
- Loopback only: a socket of this test process may connect to 127.0.0.0/8, ::1, ``localhost`` or a
  Unix path, nothing else, so a test that forgot ``network="sim"`` fails at once instead of reaching
  the internet. ``RXBYBIT_NETWORK`` defaults to ``sim`` for the same reason.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import loopback
import pytest
from hypothesis import HealthCheck, settings
from playwright.async_api import Browser, async_playwright

pytest_plugins = ["display_fixtures"]

settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

os.environ.setdefault("RXBYBIT_NETWORK", "sim")
loopback.install()

CHROMIUM = os.environ.get("RXBYBIT_CHROMIUM", "/usr/bin/chromium")
"""Debian's Chromium (``make test`` installs it); no browser is ever downloaded."""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium driven by Playwright; fails (never skips) when Chromium is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                    "the browser tests never download a browser")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()
