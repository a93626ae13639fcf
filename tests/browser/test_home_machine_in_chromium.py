"""The home page's machine in a real browser: picking it updates the list and the URL without a
page load, the browser remembers it for the next visit (localStorage), and a phone reads the
list without sideways scrolling."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def server(live_server: Any) -> Any:
    from django.core.management import call_command

    call_command("load_catalog", verbosity=0)
    call_command("refresh_prices", "--from-snapshot", verbosity=0, stdout=StringIO())
    return live_server


def new_page(context: Any) -> tuple[Any, list[str]]:
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return page, problems


def sideways(page: Any) -> int:
    """How far the page, or its model list, would scroll sideways (0: not at all)."""
    return int(
        page.evaluate(
            "Math.max(document.documentElement.scrollWidth - window.innerWidth,"
            " ...[...document.querySelectorAll('.table-wrap')].map("
            "w => w.scrollWidth - w.clientWidth))"
        )
    )


def test_pick_a_machine_and_it_is_remembered_for_the_next_visit(browser: Any, server: Any) -> None:
    context = browser.new_context(viewport=PHONE)
    page, problems = new_page(context)
    page.goto(f"{server.url}/?q=gpt-oss", wait_until="load")
    expect(page.locator("#machine-offer")).to_be_hidden()  # nothing remembered yet
    page.evaluate("window.__stillHere = true")
    page.select_option("#id_gpu", "rtx-4090")
    expect(page.locator("table.on-machine")).to_be_visible()
    page.select_option("#id_ram", "128")
    expect(page.locator(".assumed")).to_contain_text("NVIDIA GeForce RTX 4090 + 128 GiB RAM")
    assert page.evaluate("window.__stillHere") is True  # the list came without a page load
    assert page.url == f"{server.url}/?q=gpt-oss&gpu=rtx-4090&ram=128"
    row = page.locator("table.browse tr", has_text="openai/gpt-oss-120b")
    expect(row.locator(".fit-quant")).to_have_text("MXFP4_MOE")
    expect(row.locator(".fit-how")).to_contain_text("experts of")
    assert sideways(page) <= 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "home-machine-375.png"), full_page=True)
    saved = page.evaluate("JSON.parse(localStorage.getItem('modelfit.machine'))")
    assert saved == {
        "query": "gpu=rtx-4090&ram=128",
        "label": "NVIDIA GeForce RTX 4090 + 128 GiB RAM",
    }
    assert {c["name"] for c in context.cookies()} <= {"csrftoken"}  # the machine is no cookie

    later, later_problems = new_page(context)  # the next visit, same browser
    later.goto(f"{server.url}/?q=qwen3", wait_until="load")
    offer = later.locator("#machine-offer")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("Your machine: NVIDIA GeForce RTX 4090 + 128 GiB RAM")
    later.screenshot(path=str(SCREENSHOTS / "home-offer-375.png"))
    offer.locator("a", has_text="use it").click()
    later.wait_for_url(f"{server.url}/?gpu=rtx-4090&ram=128&q=qwen3")
    expect(later.locator("table.on-machine")).to_be_visible()
    expect(later.locator("#machine-offer")).to_be_hidden()
    assert problems == [] and later_problems == []
    context.close()


def test_forgetting_the_machine_and_browsing_without_one(browser: Any, server: Any) -> None:
    context = browser.new_context(viewport=PHONE)
    page, problems = new_page(context)
    page.goto(f"{server.url}/?gpu=cpu&ram=96", wait_until="load")
    expect(page.locator(".assumed")).to_contain_text("CPU only + 96 GiB RAM")
    page.goto(f"{server.url}/", wait_until="load")
    expect(page.locator("#machine-offer")).to_be_visible()
    page.locator(".machine-forget").click()
    expect(page.locator("#machine-offer")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('modelfit.machine')") is None
    page.goto(f"{server.url}/?gpu=apple-m4-max&ram=64", wait_until="load")
    detect = page.locator(".machine-detect")
    assert detect.is_visible() == page.evaluate("'gpu' in navigator")  # WebGPU or no button
    if detect.is_visible():  # headless Chromium's adapter (if any) names no GPU of the list
        detect.click()
        said = re.compile("does not say which GPU it has|choose it from the list")
        expect(page.locator(".machine-detected")).to_have_text(said)
        expect(page.locator("#id_gpu")).to_have_value("apple-m4-max")  # nothing guessed
    page.select_option("#id_gpu", "")  # "None chosen": browse, and forget the machine
    expect(page.locator("table.on-machine")).to_have_count(0)
    assert page.evaluate("localStorage.getItem('modelfit.machine')") is None
    assert sideways(page) <= 0
    assert problems == []
    context.close()


def test_the_only_what_runs_filter_and_a_screenshot_on_a_desktop(browser: Any, server: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page, problems = new_page(context)
    page.goto(f"{server.url}/?gpu=rtx-4090&ram=32&q=gpt-oss", wait_until="load")
    expect(page.locator("table.browse tbody tr")).to_have_count(2)
    page.locator("input[name=runs]").check()
    expect(page.locator("table.browse tbody tr")).to_have_count(1)  # 120b needs more RAM
    assert "runs=1" in page.url
    page.screenshot(path=str(SCREENSHOTS / "home-machine-1280.png"), full_page=True)
    assert problems == []
    context.close()
