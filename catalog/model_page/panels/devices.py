"""Every catalog device at the current settings for one user, in the user's machine (its RAM
and the GPU memory already in use; an Apple chip is its own RAM): grade and reason, decode
speed and the largest context that fits whole, grouped by kind of device.

The rows are written here rather than in the template: this panel is in every slider
response, and its ~70 rows through the template engine cost ~0.6 ms more than this (measured
for the context-slider fragment, docs/model-page.md)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from benchmarks import calibration
from catalog.model_page.panels import EVERY_CHANGE, HOST, Panel
from catalog.snapshot import SEGMENT_GROUPS
from estimator.estimate import max_context
from estimator.fit import fit
from estimator.units import tokens, tps

if TYPE_CHECKING:
    from catalog.model_page.page import Page


def build(page: Page) -> dict[str, Any]:
    est, snap, s = page.est, page.snap, page.state
    opts = s.options()
    # Each device in the user's machine: its RAM (size, type) and GPU memory already in use.
    machines = {slug: s.machine(device) for slug, device in snap.single.items()}
    most = {
        slug: max_context(page.config, opts, snap.single[slug], m) for slug, m in machines.items()
    }
    groups = []
    for label, segments in SEGMENT_GROUPS:
        rows = []
        for hw in snap.devices:
            if hw.segment not in segments:
                continue
            f = fit(page.inv, est, snap.single[hw.slug], machine=machines[hw.slug])
            if s.fits and f.status not in ("fits", "tight"):
                continue
            rows.append(
                {
                    "name": hw.name,
                    "link": snap.links[hw.slug],
                    "grade": f.grade,
                    "status": f.status,
                    "reason": f.reason,
                    "tps_value": f.decode_tokens_per_s,
                    "tps": tps(f.decode_tokens_per_s),
                    "max_context": tokens(most[hw.slug]) if most[hw.slug] else "—",
                    "memory_bytes": hw.memory_bytes,
                }
            )
        if s.sort == "speed":
            rows.sort(key=lambda r: -(r["tps_value"] or 0))
        if rows:
            groups.append(
                {"label": label, "rows": rows, "html": mark_safe("".join(map(_row, rows)))}
            )
    return {
        "groups": groups,
        "fits_query": s.query(fits="" if s.fits else "1"),
        "sort_query": s.query(sort="" if s.sort == "speed" else "speed"),
        "calibration": calibration.note(snap.calibration, "llama.cpp"),
    }


def _row(r: dict[str, Any]) -> str:
    speed = r["tps"] + (" t/s" if r["tps_value"] else "")
    return (
        f'<tr><th scope="row">{r["link"]}</th>'
        f'<td><span class="grade g{r["grade"]}">{r["grade"]}</span> '
        f"<small>{escape(r['reason'])}</small></td>"
        f'<td class="num">{speed}</td><td class="num">{r["max_context"]}</td></tr>'
    )


PANEL = Panel("devices", 50, EVERY_CHANGE | HOST, build)
