"""The cheapest current cloud offers that can serve the serving plan's state, with the cost of
a million output tokens on each (cloudprices.rentals).

The rows are written here rather than in the template (measured hot path: ~0.25 ms more
through the template engine in every slider response, docs/model-page.md)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

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
    return {"need": gib(need), "rows": rows, "rows_html": mark_safe("".join(map(_row, rows)))}


def _row(r: dict[str, Any]) -> str:
    gpus = f"{r['gpus']} \u00d7 " if r["gpus"] > 1 else ""
    region = f' <small class="muted">{escape(r["region"])}</small>' if r["region"] else ""
    lowest = ' <span class="tag ok">lowest</span>' if r["lowest"] else ""
    age = escape(r["age"])
    as_of = f'<span class="tag {escape(r["tag"])}">{age}</span>' if r["tag"] else age
    return (
        f'<tr><th scope="row">{gpus}{r["link"]}</th>'
        f'<td>{escape(r["where"])}{region}</td><td class="num">{r["price"]}</td>'
        f'<td class="num">{r["tps"]} t/s</td>'
        f'<td class="num"><strong>{r["cost"]}</strong>{lowest}</td><td>{as_of}</td></tr>'
    )


PANEL = Panel("rentals", 40, EVERY_CHANGE | SERVING, build)
