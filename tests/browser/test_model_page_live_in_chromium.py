"""The live model page in a real browser: sliders update panels and the URL without a reload."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages_in_chromium import open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def server(live_server: Any) -> Any:
    from django.core.management import call_command

    call_command("load_catalog", verbosity=0)
    call_command("refresh_prices", "--from-snapshot", verbosity=0, stdout=StringIO())
    return live_server


def kv_text(page: Any) -> str:
    return page.locator("#kv-h + table tr:nth-child(2) td").inner_text()


def set_range(page: Any, name: str, value: int) -> None:
    """Type a value into a slider's number box as a user would: set it and fire input + change."""
    page.eval_on_selector(
        f"input[name={name}]",
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));"
        " el.dispatchEvent(new Event('change', {bubbles: true})); }",
        value,
    )


def test_context_slider_updates_panels_and_url_without_a_page_load(
    browser: Any, server: Any
) -> None:
    page, problems = open_page(browser, f"{server.url}/models/llama-3-1-8b-instruct/")
    page.evaluate("window.__stillHere = true")
    before = kv_text(page)
    set_range(page, "ctx", 65536)
    expect(page.locator("#live")).to_contain_text("65536 tokens")
    assert page.evaluate("window.__stillHere") is True  # no full page load
    assert "ctx=65536" in page.url
    assert kv_text(page) != before
    page.go_back()
    expect(page.locator("#live")).not_to_contain_text("65536 tokens")
    assert kv_text(page) == before
    assert problems == []


def test_users_slider_updates_the_serving_plan(browser: Any, server: Any) -> None:
    page, problems = open_page(browser, f"{server.url}/models/llama-3-1-8b-instruct/")
    memory_before = page.locator("#panel-memory").inner_html()
    rentals_before = page.locator("#rent-h").inner_text()
    set_range(page, "users", 16)
    expect(page.locator("#serve-h")).to_contain_text("16 users")
    expect(page.locator("#panel-rentals")).to_contain_text("for 16 users")
    assert page.locator("#rent-h").inner_text() != rentals_before  # more KV cache to hold
    assert "users=16" in page.url
    assert page.locator("#panel-memory").inner_html() == memory_before  # not re-rendered
    assert problems == []


def test_the_sliders_move_over_stops_and_back_restores_them(browser: Any, server: Any) -> None:
    page, problems = open_page(browser, f"{server.url}/models/llama-3-1-8b-instruct/")
    page.evaluate("window.__stillHere = true")
    ctx_box, ctx_slider = page.locator("#ctx"), page.locator("input[data-for=ctx]")
    expect(ctx_slider).to_be_visible()  # hidden until the script binds it
    ctx_slider.focus()
    ctx_slider.press("ArrowRight")  # 8192 -> the next stop, 12288
    expect(ctx_box).to_have_value("12288")
    expect(page.locator("#live-summary")).to_contain_text("12288 tokens")
    ctx_slider.press("ArrowRight")
    expect(page.locator("#live-summary")).to_contain_text("16384 tokens")
    assert "ctx=16384" in page.url
    page.locator("input[data-for=users]").focus()
    page.locator("input[data-for=users]").press("End")
    expect(page.locator("#serve-h")).to_contain_text("256 users")
    page.go_back()
    expect(page.locator("#live-summary")).to_contain_text("16384 tokens")
    expect(page.locator("#users")).to_have_value("1")
    expect(page.locator("#ctx")).to_have_value("16384")
    page.go_back()
    expect(page.locator("#live-summary")).to_contain_text("12288 tokens")
    expect(page.locator("#ctx")).to_have_value("12288")
    ctx_slider = page.locator("input[data-for=ctx]")  # restored markup, bound again
    ctx_slider.focus()
    ctx_slider.press("ArrowLeft")
    expect(page.locator("#live-summary")).to_contain_text("8192 tokens")
    assert page.evaluate("window.__stillHere") is True
    assert problems == []


def test_a_quant_row_selects_that_quant_in_the_form(browser: Any, server: Any) -> None:
    page, problems = open_page(browser, f"{server.url}/models/llama-3-1-8b-instruct/")
    page.locator("#panel-quants a", has_text="Q6_K").click()
    expect(page.locator("#panel-quants tr.current")).to_contain_text("Q6_K")
    expect(page.locator("select[name=quant]")).to_have_value("Q6_K")
    assert "quant=Q6_K" in page.url
    set_range(page, "ctx", 4096)  # the swapped-in form still drives the panels
    expect(page.locator("#live-summary")).to_contain_text("(4096 tokens) per user · 1 user · Q6_K")
    assert problems == []


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_the_model_page(browser: Any, server: Any, width: int) -> None:
    page, problems = open_page(
        browser,
        f"{server.url}/models/gemma-3-27b-it/?ctx=32768",
        viewport={"width": width, "height": 900},
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"model-page-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert problems == []


def test_commands_get_a_copy_button(browser: Any, server: Any) -> None:
    page, problems = open_page(browser, f"{server.url}/models/llama-3-1-8b-instruct/")
    expect(page.locator("#run-h ~ details pre.copyable button.copy").first).to_have_text("Copy")
    set_range(page, "ctx", 32768)
    expect(page.locator("#live")).to_contain_text("32768 tokens")
    expect(page.locator("#run-h ~ details pre.copyable button.copy").first).to_have_text("Copy")
    assert problems == []
