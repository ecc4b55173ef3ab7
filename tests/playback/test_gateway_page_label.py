"""The gateway's try-it page says SIMULATED when its upstream is the simulator."""

from __future__ import annotations

import asyncio
import urllib.request

from rxbybit.gateway import Gateway
from rxbybit.gateway.page import PAGE_HTML, page_html


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return str(r.read().decode())


async def test_the_try_it_page_of_a_simulated_gateway_says_simulated() -> None:
    async with Gateway("sim", host="127.0.0.1", port=0) as gateway:
        page = await asyncio.to_thread(_get, gateway.http_url)
    assert 'id="provenance"' in page and "SIMULATED: data from the local simulator" in page


def test_live_data_gets_no_banner_and_labels_are_escaped() -> None:
    assert page_html("") == PAGE_HTML and 'id="provenance"' not in PAGE_HTML
    assert "<b>" not in page_html("<b>")
