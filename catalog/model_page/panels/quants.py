"""Every file type at the current context for one user on the chosen GPUs: bits per weight,
file size, memory, fit, and the quality llama.cpp measured for it.

The rows are written here rather than in the template: this panel is in every slider
response, and ~30 rows through the template engine cost ~0.4 ms more than this (measured for
the context-slider fragment, docs/model-page.md)."""

from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import SafeString, mark_safe

from catalog.model_page.panels import DEVICE, EVERY_CHANGE, HOST, Panel
from estimator import quality
from estimator.fit import fit
from estimator.memory import with_file_type
from estimator.units import gib

if TYPE_CHECKING:
    from catalog.model_page.page import Page


def build(page: Page) -> dict[str, Any]:
    rows = []
    advice = page.advice
    rest = page.query.partition("&")[2]  # the query after "quant=...", which comes first
    for quant in page.quant_names:
        est = with_file_type(page.config, page.est, quant)
        f = fit(page.inv, est, page.device, machine=page.machine)
        rows.append(
            {
                "quant": quant,
                "bpw": est.weights.bits_per_weight,
                "bpw_text": f"{est.weights.bits_per_weight:.2f}",
                "file": gib(est.file_bytes),
                "total_bytes": est.total_bytes,
                "total": gib(est.total_bytes),
                "status": f.status,
                "grade": f.grade,
                "fit": f.status if f.status != "no" else "does not fit",
                "quality": _quality(quant),
                "current": quant == page.state.quant,
                "recommended": quant == advice.quant,
                "query": f"quant={quant}&{rest}",
            }
        )
    skipped = page.est.weights.skipped
    return {
        "rows": rows,
        "rows_html": mark_safe("".join(_row(r) for r in rows)),
        # Next-token-prediction layers: in the file, loaded only for MTP speculative decoding.
        "mtp_file": gib(sum(t.bytes for t in skipped)) if skipped else "",
        "advice": advice,
        "quality_model": quality.MEASURED_ON,
        "quality_source": quality.SOURCE,
    }


@lru_cache(maxsize=64)
def _quality(quant: str) -> dict[str, str] | None:
    q = quality.QUALITY.get(quant)
    if q is None:
        return None
    ppl = 100 * q.ppl_increase
    imatrix = "" if q.imatrix == "none" else f", imatrix {q.imatrix}"
    return {
        "kld": f"{q.kld:.4f}",
        "ppl": f"+{ppl:.1f}%" if ppl >= 0.05 else "±0%",
        "title": f"measured on {quality.MEASURED_ON} by llama.cpp{imatrix}",
    }


def _row(r: dict[str, Any]) -> SafeString:
    query = escape(r["query"])
    current = ' class="current" aria-current="true"' if r["current"] else ""
    quality = r["quality"]
    measured = (
        f'<span title="{escape(quality["title"])}">{quality["kld"]} · {quality["ppl"]}</span>'
        if quality
        else '<small class="muted">not measured</small>'
    )
    badge = ' <small class="tag ok" title="the quant to use on this device">recommended</small>'
    badge = badge if r["recommended"] else ""
    return mark_safe(
        f'<tr{current}><th scope="row"><a href="?{query}" hx-get="?{query}" hx-target="#live" '
        f'hx-swap="outerHTML" hx-push-url="true">{r["quant"]}</a>{badge}</th>'
        f'<td class="num">{r["bpw_text"]}</td><td class="num">{r["file"]}</td>'
        f'<td class="num">{r["total"]}</td>'
        f'<td><span class="grade g{r["grade"]}">{r["grade"]}</span> {r["fit"]}</td>'
        f'<td class="num">{measured}</td></tr>'
    )


PANEL = Panel("quants", 20, EVERY_CHANGE | DEVICE | HOST, build)
