"""A provider's or family's line-up: figures, leaderboards of published scores, benchmark
coverage, a release timeline and which size fits which GPU."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from catalog.models import Model, Score
from catalog.snapshot import Snapshot
from estimator.fit import fit
from estimator.memory import MemoryOptions, estimate_memory, inventory
from estimator.units import gib, params

# Devices a "which size fits" table shows: one per common memory size.
FIT_DEVICES = ("rtx-4060", "rtx-3060-12gb", "rtx-4080", "rtx-4090", "apple-m4-max",
               "rtx-a6000", "h100-sxm")  # fmt: skip
FIT_QUANT = "Q4_K_M"
FIT_CTX = 8192


def stats(models: Sequence[Model]) -> dict[str, Any]:
    """Counts, parameter range, licences and the newest release."""
    if not models:
        return {"count": 0}
    sizes = [m.params_total for m in models]
    dated = [m for m in models if m.release_date]
    newest = max(dated, key=lambda m: m.release_date) if dated else None  # type: ignore[arg-type,return-value]
    licenses: dict[str, int] = defaultdict(int)
    for m in models:
        licenses[m.license] += 1
    return {
        "count": len(models),
        "smallest": params(min(sizes)),
        "largest": params(max(sizes)),
        "licenses": sorted(licenses.items(), key=lambda kv: (-kv[1], kv[0])),
        "commercial": sum(m.commercial_use for m in models),
        "multimodal": sum(len(m.input_modalities.all()) > 1 for m in models),
        "newest": newest,
        "undated": len(models) - len(dated),
    }


def leaderboards(models: Sequence[Model], limit: int = 6) -> list[dict[str, Any]]:
    """Per benchmark and setting (as the sources state them), the models ranked by score;
    the benchmarks most of the line-up reports come first."""
    by_label: dict[tuple[str, str, str], list[Score]] = defaultdict(list)
    for m in models:
        for s in m.scores.all():
            by_label[(s.benchmark, s.setting, s.unit)].append(s)
    boards = []
    for (benchmark, setting, unit), scores in by_label.items():
        ranked = sorted(scores, key=lambda s: -s.value)
        boards.append(
            {
                "benchmark": benchmark,
                "setting": setting,
                "unit": unit,
                "rows": [
                    {
                        "model": s.model,
                        "value": f"{s.value:g}",
                        "source": s.source,
                        "kind": s.get_source_kind_display(),
                    }
                    for s in ranked
                ],
            }
        )
    boards.sort(key=lambda b: (-len(b["rows"]), b["benchmark"], b["setting"]))
    return boards[:limit]


def coverage(models: Sequence[Model]) -> dict[str, Any]:
    """Which model has which published score: a grid of models by benchmarks."""
    labels = sorted({(s.benchmark, s.setting) for m in models for s in m.scores.all()})
    grid = []
    for m in models:
        have = {(s.benchmark, s.setting): f"{s.value:g}" for s in m.scores.all()}
        grid.append({"model": m, "cells": [have.get(label, "") for label in labels]})
    return {"labels": [f"{b} ({s})" if s else b for b, s in labels], "rows": grid}


def timeline(models: Sequence[Model]) -> SafeString:
    """An SVG of release dates: one dot per model, labelled, on a time axis."""
    dated = sorted((m for m in models if m.release_date), key=lambda m: m.release_date)  # type: ignore[arg-type,return-value]
    if not dated:
        return mark_safe("")
    first: dt.date = dated[0].release_date  # type: ignore[assignment]
    last: dt.date = dated[-1].release_date  # type: ignore[assignment]
    span = max((last - first).days, 30)
    width, pad, row = 760, 24, 16
    height = pad * 2 + row * len(dated) + 14

    def x(day: dt.date) -> float:
        return pad + (width - 2 * pad - 200) * (day - first).days / span

    parts = [
        f'<svg class="chart timeline" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Release timeline, {first:%Y-%m} to {last:%Y-%m}">',
        f'<line class="axis" x1="{pad}" x2="{width - pad - 200}" y1="{height - pad}" '
        f'y2="{height - pad}"/>',
    ]
    for year in range(first.year, last.year + 1):
        for month, label in ((1, str(year)), (4, "Apr"), (7, "Jul"), (10, "Oct")):
            tick = dt.date(year, month, 1)
            if first <= tick <= last and (month in (1, 7) or span < 730):
                parts.append(
                    f'<text class="tick" x="{x(tick):.1f}" y="{height - pad + 12}">{label}</text>'
                )
    for i, m in enumerate(dated):
        cx, cy = x(m.release_date), pad + i * row  # type: ignore[arg-type]
        parts.append(
            f'<a href="{escape(m.get_absolute_url())}"><circle class="point" cx="{cx:.1f}" '
            f'cy="{cy}" r="4"><title>{escape(m.name)}: {m.release_date}</title></circle>'
            f'<text class="point-label" x="{cx + 8:.1f}" y="{cy + 4}">{escape(m.name)} '
            f"({params(m.params_total)})</text></a>"
        )
    parts.append(
        f'<text class="chart-title" x="{pad}" y="{pad - 8}">{first:%Y-%m-%d} to '
        f"{last:%Y-%m-%d}</text></svg>"
    )
    return mark_safe("".join(parts))


def size_fit(models: Sequence[Model], snap: Snapshot) -> dict[str, Any]:
    """Each model at the family's common quant on one device per common memory size."""
    devices = [snap.by_slug[s] for s in FIT_DEVICES if s in snap.by_slug]
    rows = []
    for m in sorted(models, key=lambda m: m.params_total):
        config = m.estimator_config
        inv = inventory(config)
        opts = MemoryOptions(file_type=FIT_QUANT, n_ctx=min(FIT_CTX, m.context_length))
        est = estimate_memory(config, opts)
        cells = []
        for hw in devices:
            f = fit(inv, est, snap.single[hw.slug])
            tps = f.decode_tokens_per_s
            speed = "" if not tps else f"{tps:.0f}" if tps >= 10 else f"{tps:.1f}"
            cells.append({"grade": f.grade, "reason": f.reason, "tps": speed})
        rows.append(
            {
                "model": m,
                "params": params(m.params_total),
                "total": gib(est.total_bytes),
                "cells": cells,
            }
        )
    return {"devices": devices, "rows": rows, "quant": FIT_QUANT, "ctx": FIT_CTX}
