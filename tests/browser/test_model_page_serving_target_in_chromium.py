"""The serving target and the electricity price in a real browser: typing a value re-renders
only the panel it changes and keeps it in the URL, without a page load."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages_in_chromium import open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(live_server: Any) -> Any:
    from django.core.management import call_command

    call_command("load_catalog", verbosity=0)
    call_command("refresh_prices", "--from-snapshot", verbosity=0, stdout=StringIO())
    return live_server


def test_typing_a_target_and_a_price_updates_their_panels_and_the_url(
    browser: Any, server: Any
) -> None:
    page, problems = open_page(browser, f"{server.url}/models/llama-3-1-8b-instruct/")
    page.evaluate("window.__stillHere = true")
    memory_before = page.locator("#panel-memory").inner_html()
    rentals_before = page.locator("#panel-rentals").inner_html()
    expect(page.locator("#serve-target")).to_contain_text("serves 17 users")
    page.locator("details.targets > summary").click()
    page.locator("input[name=per_user_tps]").fill("400")
    expect(page.locator("#serve-target")).to_contain_text("cannot give even one user 400 tokens/s")
    assert "per_user_tps=400" in page.url
    assert page.locator("#panel-rentals").inner_html() == rentals_before  # not re-rendered
    page.locator("input[name=kwh_price]").fill("0.5")
    expect(page.locator("#local-cost")).to_contain_text("at $0.5/kWh.")
    assert "kwh_price=0.5" in page.url and "per_user_tps=400" in page.url
    assert page.locator("#panel-memory").inner_html() == memory_before
    assert page.evaluate("window.__stillHere") is True  # no full page load
    page.go_back()
    expect(page.locator("#local-cost")).not_to_contain_text("at $0.5/kWh.")
    assert problems == []
