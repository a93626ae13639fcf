"""The cheapest current cloud offers that can serve the serving plan's state, with the cost of
a million output tokens on each (cloudprices.rentals), and beside them the electricity for the
same tokens on your own machine (the chosen GPUs at their board power).

The rows are written here rather than in the template (measured hot path: ~0.25 ms more
through the template engine in every slider response, docs/model-page.md)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from catalog.model_page.panels import DEVICE, EVERY_CHANGE, FORCED, HOST, SERVING, Panel
from catalog.snapshot import engine
from cloudprices.rentals import cheapest_rentals
from estimator.serving import DEFAULT_KWH_PRICE, KWH_PRICE_SOURCE, local_cost_per_million
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
    return {
        "need": gib(need),
        "rows": rows,
        "rows_html": mark_safe("".join(map(_row, rows))),
        "local": local_cost(page),
    }


def local_cost(page: Page) -> dict[str, Any]:
    """Electricity per 1M output tokens on the chosen GPUs at the serving plan's aggregate speed:
    their board power (TDP) x GPU count, an upper bound (decoding is memory-bound and draws
    less); "unknown" with the reason when the power or the speed is."""
    s, hw = page.state, page.hardware
    watts = hw.tdp_watts * s.gpu_count if hw.tdp_watts else None
    aggregate = page.serving.device.aggregate_tokens_per_s if page.serving.device else None
    cost = local_cost_per_million(watts, s.kwh_price, aggregate or 0)
    reason = ""
    if watts is None:
        reason = f"no published board power (TDP) for the {hw.name} in our catalog"
    elif not aggregate:
        reason = "the serving plan has no decode speed for this setup"
    return {
        "cost": _dollars(cost),
        "reason": reason,
        "watts": watts,
        "tps": tps(aggregate),
        "price": f"{s.kwh_price:g}",
        "default_price": f"{DEFAULT_KWH_PRICE:g}",
        "is_default": s.kwh_price == DEFAULT_KWH_PRICE,
        "source": KWH_PRICE_SOURCE,
    }


def _dollars(cost: float | None) -> str:
    if cost is None:
        return ""
    return "< $0.01" if 0 < cost < 0.005 else f"${cost:,.2f}"


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


# The cost on your own machine follows the chosen GPUs, the serving plan on them and the price.
PANEL = Panel("rentals", 40, EVERY_CHANGE | SERVING | DEVICE | HOST | FORCED | {"kwh_price"}, build)
