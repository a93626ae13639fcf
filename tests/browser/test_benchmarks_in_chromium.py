"""A pasted llama-bench table, submitted in Chromium, held, published by a moderator in the
admin, and shown on the model page."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A real llama-bench run of Llama 3.3 70B Q4_K_M on a Mac (Metal,BLAS): pp512, pp4096, tg128
# and a pp4096+tg128 test, which the form leaves out (tests/benchmarks/data/llama_bench/README.md).
PASTE = (
    Path(__file__).parents[1] / "benchmarks" / "data" / "llama_bench" / "md_2025_metal_blas.md"
).read_text()
SHOTS = Path("var/screenshots")


@pytest.fixture
def site(live_server: Any) -> Any:
    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("load_catalog", verbosity=0)
    call_command("refresh_prices", "--from-snapshot", verbosity=0, stdout=StringIO())
    User.objects.create_superuser("moderator", "mod@example.com", "a-long-test-password")
    return live_server


def test_a_pasted_table_is_submitted_moderated_and_shown(browser: Any, site: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    # Django's admin has no icon link, so Chromium asks for /favicon.ico: not one of our pages.
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )

    page.goto(f"{site.url}/benchmarks/submit/?model=llama-3-3-70b-instruct")
    page.fill("#id_paste", PASTE)
    page.click("button[value=read]")
    page.wait_for_selector("text=Read 3 rows from the output")
    assert page.input_value("#id_rows-2-gen_tokens_per_s") == "14.41"
    assert page.input_value("#id_rows-1-context") == "4096"
    assert page.input_value("#id_runtime_version") == "build 4d3726278 (7315)"
    assert page.input_value("#id_backend") == "metal"
    assert page.input_value("#id_model") == "llama-3-3-70b-instruct"  # kept across the swap
    page.select_option("#id_hardware", "other")
    page.fill("#id_hardware_text", "Mac Studio M3 Ultra, cluster node")
    page.fill("#id_name", "browser test")
    page.screenshot(path=str(SHOTS / "benchmarks-submit-1280.png"), full_page=True)
    page.click("button[value=submit]")
    page.wait_for_url("**/benchmarks/submitted/**")
    assert page.locator("text=held for a moderator").count() == 3

    page.goto(f"{site.url}/models/llama-3-3-70b-instruct/")
    assert "No community runs yet" in page.locator("#community").inner_text()

    page.goto(f"{site.url}/admin/login/?next=/admin/benchmarks/submission/")
    page.fill("#id_username", "moderator")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_selector("text=device not in the catalog: it cannot be checked")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "publish")
    page.click("button[name=index]")
    page.wait_for_selector("text=3 results: Published.")

    page.goto(f"{site.url}/models/llama-3-3-70b-instruct/")
    section = page.locator("#community")
    text = section.inner_text()
    assert "3 published results" in text
    assert "Mac Studio M3 Ultra, cluster node (other)" in text
    cells = section.locator("table.bench-results td.num").all_inner_texts()
    for figure in ("162", "157", "14"):  # pp512, pp4096 (156.67), tg128 (14.4: whole from 10 up)
        assert figure in cells
    section.screenshot(path=str(SHOTS / "community-1280.png"))
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert problems == []


def test_over_the_paste_limit_the_message_shows_in_place(
    browser: Any, site: Any, settings: Any
) -> None:
    """htmx does not swap a 4xx answer unless told to: the 429's message must still show."""
    from django.core.cache import cache

    cache.clear()
    settings.BENCHMARK_PASTE_RATE_LIMIT = 0
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{site.url}/benchmarks/submit/?model=llama-3-3-70b-instruct")
    page.fill("#id_paste", PASTE)
    with page.expect_response(lambda r: r.status == 429):
        page.click("button[value=read]")
    page.wait_for_selector("text=Too many pasted outputs from your address: at most 0 an hour.")
    assert page.url.endswith("/benchmarks/submit/?model=llama-3-3-70b-instruct")
    context.close()
