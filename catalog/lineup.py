"""A provider's or family's line-up: figures, leaderboards of published scores, benchmark
coverage, a release timeline and which size fits which GPU.

Both pages are a function of the catalog alone: their content is rendered once per catalog
revision (`provider_content`, `family_content`) and the page around it per request.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Min
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from catalog import machines, parts
from catalog.charts import Scale
from catalog.machine_state import MachineState
from catalog.models import Family, Model, Provider, Score
from catalog.snapshot import Snapshot
from estimator.fit import fit
from estimator.memory import MemoryOptions, estimate_memory, inventory
from estimator.units import gib, params

# Devices a "which size fits" table shows: one per common memory size.
FIT_DEVICES = ("rtx-4060", "rtx-3060-12gb", "rtx-4080", "rtx-4090", "apple-m4-max",
               "rtx-a6000", "h100-sxm")  # fmt: skip
FIT_QUANT = "Q4_K_M"
FIT_CTX = 8192


@dataclass(frozen=True)
class Heading:
    """What a provider's or family's title and description name."""

    name: str
    count: int
    smallest: str
    largest: str
    provider: str = ""  # a family's provider


def headings(snap: Snapshot) -> dict[tuple[str, str], Heading]:
    """("provider" or "family", slug) -> its heading, for every provider and family: read once
    per catalog revision, so a page served from its cached content makes no query (and an
    unknown slug is a 404 without one)."""
    return snap.remember("lineup-headings", _headings)


def _headings() -> dict[tuple[str, str], Heading]:
    sizes = {"n": Count("models"), "low": Min("models__params_total")}
    sizes["high"] = Max("models__params_total")
    fields = ("slug", "name", "n", "low", "high")
    providers = Provider.objects.annotate(**sizes).values_list(*fields)
    families = Family.objects.annotate(**sizes).values_list(*fields, "provider__name")
    out = {}
    for kind, rows in (("provider", providers), ("family", families)):
        for slug, name, n, low, high, *provider in rows:
            smallest, largest = (params(low), params(high)) if n else ("", "")
            out[(kind, slug)] = Heading(name, n, smallest, largest, *provider)
    return out


def provider_content(snap: Snapshot, slug: str) -> SafeString:
    """The provider page's content, rendered once per catalog revision."""
    return parts.cached(parts.key("provider", snap.revision, slug), lambda: _provider(slug))


def _provider(slug: str) -> str:
    provider = Provider.objects.get(slug=slug)
    models = list(
        provider.models.with_listing()
        .prefetch_related("scores__model")
        .order_by("-release_date", "name")
    )
    context = {
        "provider": provider,
        "models": models,
        "rows": listed(models),
        "families": provider.families.all(),
        "stats": stats(models),
        "boards": leaderboards(models),
        "coverage": coverage(models),
        "timeline": timeline(models),
    }
    return render_to_string("catalog/provider_detail.html#content", context)


def listed(models: Sequence[Model]) -> list[tuple[Model, None, str]]:
    """Rows of the shared model table (catalog/_model_table.html): a model, no fit on a
    machine, its page."""
    return [(m, None, m.get_absolute_url()) for m in models]


def family_content(snap: Snapshot, slug: str) -> SafeString:
    """The family page's content, rendered once per catalog revision and calibration (its
    speeds take the community's factors)."""
    return parts.cached(parts.key("family", snap.revision, slug), lambda: _family(snap, slug))


def _family(snap: Snapshot, slug: str) -> str:
    family = Family.objects.select_related("provider").get(slug=slug)
    models = list(
        family.models.with_listing()
        .prefetch_related("scores__model")
        .order_by("params_total", "name")
    )
    context = {
        "family": family,
        "models": models,
        "rows": listed(models),
        "stats": stats(models),
        "boards": leaderboards(models),
        "timeline": timeline(models),
        "fits": size_fit(models, snap),
    }
    return render_to_string("catalog/family_detail.html#content", context)


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


def timeline(models: Sequence[Model]) -> dict[str, Any] | None:
    """Where the release timeline (templates/catalog/charts/timeline.html) puts each model: one
    dot per dated model, a row each, on a time axis with year and half-year ticks (quarters
    under two years); None when no model has a release date."""
    dated = sorted((m for m in models if m.release_date), key=lambda m: m.release_date)  # type: ignore[arg-type,return-value]
    if not dated:
        return None
    first: dt.date = dated[0].release_date  # type: ignore[assignment]
    last: dt.date = dated[-1].release_date  # type: ignore[assignment]
    span = max((last - first).days, 30)
    width, pad, row, labels = 760, 24, 16, 200
    height = pad * 2 + row * len(dated) + 14
    x = Scale(0, span, pad, width - pad - labels)
    ticks = []
    for year in range(first.year, last.year + 1):
        for month, label in ((1, str(year)), (4, "Apr"), (7, "Jul"), (10, "Oct")):
            tick = dt.date(year, month, 1)
            if first <= tick <= last and (month in (1, 7) or span < 730):
                ticks.append({"x": f"{x((tick - first).days):.1f}", "label": label})
    points = []
    for i, m in enumerate(dated):
        cx, cy = x((m.release_date - first).days), pad + i * row  # type: ignore[operator]
        points.append(
            {"model": m, "x": f"{cx:.1f}", "y": cy, "label_x": f"{cx + 8:.1f}", "label_y": cy + 4}
        )
    return {
        "width": width,
        "height": height,
        "pad": pad,
        "axis_end": width - pad - labels,
        "axis_y": height - pad,
        "tick_y": height - pad + 12,
        "title_y": pad - 8,
        "first": first,
        "last": last,
        "ticks": ticks,
        "points": points,
    }


def size_fit(models: Sequence[Model], snap: Snapshot) -> dict[str, Any]:
    """Each model at the family's common quant on one device per common memory size, in the
    default machine (catalog.machine_state: 64 GiB of DDR5-6000 beside a GPU; an Apple chip is
    its own memory), so a MoE model may run with its experts in system RAM."""
    devices = [snap.by_slug[s] for s in FIT_DEVICES if s in snap.by_slug]
    default = MachineState()
    chosen = [machines.Chosen(hw, 1, hw.memory_bytes, default) for hw in devices]
    estimators = [c.estimator(snap) for c in chosen]
    rows = []
    for m in sorted(models, key=lambda m: m.params_total):
        config = m.estimator_config
        inv = inventory(config)
        opts = MemoryOptions(file_type=FIT_QUANT, n_ctx=min(FIT_CTX, m.context_length))
        est = estimate_memory(config, opts)
        cells = []
        for device, machine in estimators:
            f = fit(inv, est, device, machine=machine)
            cells.append({"grade": f.grade, "reason": f.reason, "tps": f.decode_tokens_per_s,
                          "in_ram": f.status == "offload"})  # fmt: skip
        rows.append(
            {
                "model": m,
                "params": params(m.params_total),
                "total": gib(est.total_bytes),
                "cells": cells,
            }
        )
    return {
        "devices": devices,
        "rows": rows,
        "quant": FIT_QUANT,
        "ctx": FIT_CTX,
        "machine": f"{default.ram} GiB of {default.ram_label} system RAM "
        f"({default.bandwidth_gbps:g} GB/s)",
    }
