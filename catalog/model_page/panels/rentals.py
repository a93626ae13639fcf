"""The cheapest current cloud offers that can serve the serving plan's state, with the cost of
a million output tokens on each (cloudprices.rentals)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from catalog.model_page.panels import EVERY_CHANGE, SERVING, Panel
from catalog.snapshot import engine
from cloudprices.rentals import cheapest_rentals
from estimator.units import gib, tps

if TYPE_CHECKING:
    from catalog.model_page.page import Page


def build(page: Page) -> dict[str, Any]:
    s = page.state
    need = page.serving.memory.total_bytes
    rentals = cheapest_rentals(
        page.config,
        s.options(n_ctx=s.ctx * s.users, n_seq=s.users),
        users=s.users,
        depth=s.ctx // 2,
        runtime=s.runtime,
        need_bytes=need,
        devices=page.snap.by_pk,
        prices_token=page.prices,
        calibration=page.snap.calibration.by_class(engine(s.runtime)),
    )
    lowest = min((r.cost_per_million for r in rentals), default=None)
    rows = []
    for r in rentals:
        tag, age = r.offer.age()
        rows.append(
            {
                "gpus": r.offer.gpu_count,
                "link": page.snap.links[r.hardware.slug],
                "where": r.offer.where,
                "region": r.offer.region,
                "price": f"${r.price_per_hour:.2f}",
                "tps": tps(r.aggregate_tokens_per_s),
                "cost": f"${r.cost_per_million:.2f}",
                "lowest": r.cost_per_million == lowest,
                "tag": tag,
                "age": age,
            }
        )
    return {"need": gib(need), "rows": rows}


PANEL = Panel("rentals", 40, EVERY_CHANGE | SERVING, build)
