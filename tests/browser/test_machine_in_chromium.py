"""The machine on the model page in a real browser: its fields re-render the plan and the
command without a page load, the URL keeps them, and the page reads on a phone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages_in_chromium import open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PAGE = "/models/gpt-oss-120b/?quant=MXFP4_MOE"


@pytest.fixture
def server(live_server: Any) -> Any:
    from django.core.management import call_command

    call_command("load_catalog", verbosity=0)
    call_command("refresh_prices", "--from-snapshot", verbosity=0, stdout=StringIO())
    return live_server


@pytest.fixture
def opened(browser: Any) -> Iterator[Callable[..., tuple[Any, list[str]]]]:
    """open_page, whose browser contexts close after the test: their keep-alive connections
    would hold the live server's threads, and so database sessions, until the test database is
    dropped."""
    pages: list[Any] = []

    def open_(url: str, **context: Any) -> tuple[Any, list[str]]:
        page, problems = open_page(browser, url, **context)
        pages.append(page)
        return page, problems

    yield open_
    for page in pages:
        page.context.close()


def command(page: Any) -> str:
    return page.locator("#panel-run details pre code").first.inner_text()


def open_machine(page: Any) -> None:
    """Open the machine's fields and its advanced part (the page opens them when set)."""
    page.evaluate("document.querySelectorAll('details.machine, details.advanced')"
                  ".forEach(d => { d.open = true; })")  # fmt: skip


def test_changing_ram_re_renders_the_plan_and_the_command_and_the_url_keeps_it(
    opened: Any, server: Any
) -> None:
    page, problems = opened(server.url + PAGE)
    page.evaluate("window.__stillHere = true")
    assert command(page).endswith("-ngl 37 --n-cpu-moe 24")
    expect(page.locator("details.machine:not(.targets):not(.finetune)")).not_to_have_attribute(
        "open", ""
    )
    page.locator("details.machine:not(.targets):not(.finetune) > summary").click()
    page.select_option("select[name=ram]", "32")
    expect(page.locator("#panel-plan")).to_contain_text("needs 10.5 GiB more system RAM")
    expect(page.locator("#panel-run")).to_contain_text("-ngl 37 -ot ")  # --fit's own overrides
    expect(page.locator("#panel-faq")).to_contain_text(
        "No, not at MXFP4_MOE with a 8K context: it needs 10.5 GiB more system RAM."
    )
    assert "ram=32" in page.url
    assert "reserved=" not in page.url and "ngl=" not in page.url  # blank fields are left out
    assert page.evaluate("window.__stillHere") is True  # no page load
    page.locator("input[name=reserved]").fill("3")
    expect(page.locator("#panel-plan")).to_contain_text("3 GiB already in use")
    assert "reserved=3" in page.url and "ram=32" in page.url
    page.select_option("select[name=ram]", "128")
    expect(page.locator("#panel-plan")).to_contain_text("Fits in GPU memory and system RAM")
    expect(page.locator("#panel-faq")).to_contain_text("with 128 GiB of RAM?")
    page.go_back()
    expect(page.locator("#panel-plan")).to_contain_text("needs")
    expect(page.locator("select[name=ram]")).to_have_value("32")
    page.reload()  # the URL alone brings the same state back
    expect(page.locator("select[name=ram]")).to_have_value("32")
    expect(page.locator("input[name=reserved]")).to_have_value("3")
    expect(page.locator("#panel-plan")).to_contain_text("more system RAM")
    assert problems == []


def test_a_larger_batch_and_a_forced_placement_change_the_command(opened: Any, server: Any) -> None:
    page, problems = opened(server.url + PAGE)
    open_machine(page)
    page.select_option("select[name=ub]", "4096")
    expect(page.locator("#panel-run code").first).to_contain_text("-b 4096 -ub 4096")
    expect(page.locator("#panel-plan strong", has_text="-ub 4096")).to_be_visible()
    page.locator("input[name=ngl]").fill("30")
    expect(page.locator("#panel-run code").first).to_contain_text("-ngl 30 ")
    page.locator("input[name=ncmoe]").fill("10")
    expect(page.locator("#panel-run code").first).to_contain_text("-ngl 30 --n-cpu-moe 10")
    expect(page.locator("#panel-plan")).to_contain_text("Placement forced: -ngl 30, --n-cpu-moe 10")
    assert "ngl=30" in page.url and "ncmoe=10" in page.url and "ub=4096" in page.url
    assert problems == []


@pytest.mark.parametrize("width", [375, 1280])
def test_the_machine_and_the_plan_read_on_a_narrow_screen(
    opened: Any, server: Any, width: int
) -> None:
    page, problems = opened(server.url + PAGE + "&ram=96", viewport={"width": width, "height": 900})
    open_machine(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".live-controls").screenshot(path=str(SCREENSHOTS / f"machine-{width}.png"))
    page.locator("#panel-plan").screenshot(path=str(SCREENSHOTS / f"plan-{width}.png"))
    page.locator("#panel-run").screenshot(path=str(SCREENSHOTS / f"run-{width}.png"))
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    # Every figure of the plan is on screen, not in a table scrolled sideways.
    boxes = page.eval_on_selector_all(
        "#panel-plan td, #panel-plan th", "els => els.map(e => e.getBoundingClientRect().right)"
    )
    assert boxes and max(boxes) <= width
    assert problems == []
