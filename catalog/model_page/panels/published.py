"""Published measurements of this model (benchmarks.published): public llama-bench,
batched-bench and server results with their source, build and settings, each beside our
estimate for its setting. They do not depend on the page's controls, so no control brings the
panel back; the page shows the first rows, `pub=all` all of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchmarks import published
from catalog.model_page.panels import Panel

if TYPE_CHECKING:
    from catalog.model_page.page import Page


def build(page: Page) -> dict[str, Any]:
    s = page.state
    shown = published.for_model(page.snap, page.model.slug, show_all=s.pub == "all")
    return shown | {
        "all_query": s.query(pub="all"),
        "anchor": "panel-published",
        "by_model": False,
        # A model that is not in the catalog (/estimate/<key>/) has none to show.
        "in_catalog": page.model.slug in page.snap.models,
    }


PANEL = Panel("published", 90, frozenset(), build)
