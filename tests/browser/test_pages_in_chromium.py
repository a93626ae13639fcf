"""What only a real browser shows: layout on a phone, dark mode, no CSP violations."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def loaded_live_server(live_server: Any) -> Any:
    # transaction=True tests start from an empty database: load the catalog for the live server.
    from django.core.management import call_command

    call_command("load_catalog", verbosity=0)
    call_command("refresh_prices", "--from-snapshot", verbosity=0, stdout=StringIO())
    return live_server


def open_page(browser: Any, url: str, **context: Any) -> tuple[Any, list[str]]:
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(url, wait_until="load")
    return page, problems


def test_model_page_fits_a_phone_screen_without_sideways_scrolling(
    browser: Any, loaded_live_server: Any
) -> None:
    page, problems = open_page(
        browser,
        f"{loaded_live_server.url}/models/phi-3-5-vision-instruct/",
        viewport={"width": 375, "height": 740},
    )
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert page.locator("h1").inner_text() != ""
    page.screenshot(path="var/screenshot-model-phone.png", full_page=False)
    assert problems == []  # no CSP violation, no script error


def test_the_prices_page_fits_a_phone_screen_and_draws_its_badges(
    browser: Any, loaded_live_server: Any
) -> None:
    page, problems = open_page(
        browser, f"{loaded_live_server.url}/gpus/prices/", viewport={"width": 390, "height": 800}
    )
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    badge = page.locator("table.prices .tag.warn").first
    assert badge.inner_text() == "snapshot 2026-11-22"
    assert badge.bounding_box()["height"] < 30  # type: ignore[index]  # one line, not wrapped
    Path("var/screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path="var/screenshots/prices-390.png", full_page=False)
    assert problems == []


def test_htmx_loads_under_the_content_security_policy(
    browser: Any, loaded_live_server: Any
) -> None:
    page, problems = open_page(browser, f"{loaded_live_server.url}/")
    assert page.evaluate("typeof window.htmx") == "object"
    assert problems == []


def test_dark_mode_follows_the_system_setting(browser: Any, loaded_live_server: Any) -> None:
    dark, _ = open_page(browser, f"{loaded_live_server.url}/hardware/", color_scheme="dark")
    light, _ = open_page(browser, f"{loaded_live_server.url}/hardware/", color_scheme="light")
    background = "getComputedStyle(document.body).backgroundColor"
    assert dark.evaluate(background) == "rgb(13, 17, 23)"
    assert light.evaluate(background) == "rgb(255, 255, 255)"


def test_browse_filters_submit_as_a_plain_get_form(browser: Any, loaded_live_server: Any) -> None:
    page, problems = open_page(browser, f"{loaded_live_server.url}/")
    page.select_option("#id_provider", "google")
    page.select_option("#id_modality", "image")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("load")
    assert "provider=google" in page.url and "modality=image" in page.url
    names = page.locator("table.models tbody th a").all_inner_texts()
    assert names and all("Gemma" in n or "gemma" in n for n in names)
    assert problems == []


@pytest.mark.parametrize(
    "path",
    [
        "/hardware/",
        "/hardware/rtx-4090/?count=2",
        "/providers/qwen/",
        "/families/gemma/",
        "/compare/?models=qwen3-8b,phi-4,gemma-3-12b-it",
        "/estimate/",
        "/methodology/",
        "/benchmarks/submit/",
    ],
)
def test_discovery_pages_fit_a_phone_without_script_errors(
    browser: Any, loaded_live_server: Any, path: str
) -> None:
    page, problems = open_page(
        browser, loaded_live_server.url + path, viewport={"width": 390, "height": 800}
    )
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert page.locator("h1").count() == 1
    assert problems == []
