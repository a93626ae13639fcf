"""Models of half to twice this one's size at the current quant and context on the chosen
GPUs, newest first, with a link to compare them side by side.

The rows are written here rather than in the template (measured hot path: ~0.4 ms more
through the template engine in every slider response, docs/model-page.md)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from catalog.model_page.panels import DEVICE, EVERY_CHANGE, HOST, Panel
from catalog.models import Model
from estimator.fit import fit
from estimator.memory import KeyedConfig, estimate_memory, inventory
from estimator.units import gib, params, tokens, tps

if TYPE_CHECKING:
    from catalog.model_page.page import Page

SHOWN = 8
COMPARED = 6


@dataclass(frozen=True)
class Listing:
    """What the table shows of a model, read once per catalog revision."""

    pk: int | None  # None: a model estimated from its config, not in the catalog
    slug: str
    name: str
    url: str
    params: str
    context_length: int
    modalities: tuple[str, ...]
    license: str
    commercial_use: bool
    config: KeyedConfig


def build(page: Page) -> dict[str, Any]:
    rows = []
    for other in _candidates(page):
        ctx = min(page.state.ctx, other.context_length)
        est = estimate_memory(other.config, page.state.options(n_ctx=ctx))
        f = fit(inventory(other.config), est, page.device, machine=page.machine)
        rows.append(
            {
                "model": other,
                "current": other.pk == page.model.pk,
                "context": tokens(other.context_length),
                "total": gib(est.total_bytes),
                "grade": f.grade,
                "tps": f"{tps(f.decode_tokens_per_s)} t/s" if f.decode_tokens_per_s else "",
            }
        )
    slugs = ",".join(r["model"].slug for r in rows[:COMPARED])
    query = escape(page.query)
    return {
        "rows": rows,
        "rows_html": mark_safe("".join(_row(r, query) for r in rows)),
        "compare_query": f"models={slugs}&gpu={page.state.gpu}",
    }


def _row(r: dict[str, Any], query: str) -> str:
    m = r["model"]
    name = escape(m.name)
    link = name if r["current"] else f'<a href="{escape(m.url)}?{query}">{name}</a>'
    tags = "".join(f'<span class="tag">{escape(code)}</span>' for code in m.modalities)
    noncommercial = "" if m.commercial_use else ' <span class="tag warn">non-commercial</span>'
    current = ' class="current"' if r["current"] else ""
    return (
        f'<tr{current}><th scope="row">{link}</th>'
        f'<td class="num">{m.params}</td><td class="num">{r["context"]}</td><td>{tags}</td>'
        f'<td>{escape(m.license)}{noncommercial}</td><td class="num">{r["total"]}</td>'
        f'<td><span class="grade g{r["grade"]}">{r["grade"]}</span> {r["tps"]}</td></tr>'
    )


def _candidates(page: Page) -> list[Listing]:
    """This model and up to 8 others of half to twice its size, newest first."""
    model = page.model
    if model.pk is None:  # a model estimated from its config: not in the catalog, not kept
        return [_listing(model, ("text",)), *_others(model)]

    def compute() -> list[Listing]:
        current = Model.objects.prefetch_related("input_modalities").get(pk=model.pk)
        modalities = tuple(m.code for m in current.input_modalities.all())
        return [_listing(current, modalities), *_others(model)]

    return page.snap.remember(("similar", model.pk), compute)


def _others(model: Model) -> list[Listing]:
    low, high = model.params_total // 2, model.params_total * 2
    others = (
        Model.objects.with_listing()
        .exclude(pk=model.pk)
        .filter(params_total__gte=low, params_total__lte=high)
        .order_by("-release_date", "name")[:SHOWN]
    )
    return [_listing(m, tuple(x.code for x in m.input_modalities.all())) for m in others]


def _listing(model: Model, modalities: tuple[str, ...]) -> Listing:
    return Listing(
        model.pk, model.slug, model.name, model.get_absolute_url(), params(model.params_total),
        model.context_length, modalities, model.license, model.commercial_use,
        model.estimator_config,
    )  # fmt: skip


PANEL = Panel("similar", 60, EVERY_CHANGE | DEVICE | HOST, build)
