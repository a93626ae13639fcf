from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

# Playwright's sync API runs an event loop; Django's async-safety check would refuse ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM_PATH")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def browser(live_server: Any) -> Iterator[Any]:
    """Chromium, closed before the live server stops (it depends on it): its keep-alive
    connections would otherwise make the server's request threads close a database connection
    from the wrong thread (SQLite shares one across threads)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("MODELFIT_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here (MODELFIT_REQUIRE_BROWSER=1) but not found")
        pytest.skip("Chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
