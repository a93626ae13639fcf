"""Memory at this context: weights, KV cache (by kind of layer), buffers and the total, the
change from the default context, and a chart of total memory against context.

The chart's repeated elements (capacity lines, ticks) are written here rather than in the
template: the panel is in every slider response, and through the template engine they cost
~0.25 ms more (measured for the context-slider fragment, docs/model-page.md)."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from catalog.charts import Scale, path
from catalog.model_page.panels import EVERY_CHANGE, Panel
from estimator.memory import MemoryOptions, estimate_memory, image_tokens_of
from estimator.units import GIB, gib, tokens

if TYPE_CHECKING:
    from catalog.model_page.page import Page

CAPACITY_LINES_GB = (8, 12, 16, 24, 32, 48, 80)
WIDTH, HEIGHT, PAD = 560, 220, 40
MLA_TYPES = ("deepseek_v2", "deepseek_v3", "kimi_k2")


def build(page: Page) -> dict[str, Any]:
    est = page.est
    default_total, totals = _context_curve(page)
    delta = est.total_bytes - default_total
    kv = est.kv
    return {
        "weights": gib(est.weights_bytes),
        "kv": gib(kv.bytes),
        "kv_full": gib(kv.full_bytes) if kv.swa_bytes else "",
        "kv_swa": gib(kv.swa_bytes) if kv.swa_bytes else "",
        "swa_cells": kv.cells_swa,
        "recurrent": gib(kv.recurrent_bytes) if kv.recurrent_bytes else "",
        "is_mla": page.model.model_type in MLA_TYPES,
        "buffers": gib(est.compute_buffer_bytes + est.output_buffer_bytes),
        "encoder": gib(est.mmproj_bytes) if est.mmproj_bytes else "",
        "encoder_compute": gib(est.mmproj_compute_bytes),
        "image_tokens": image_tokens_of(est.key) if est.mmproj_bytes else None,
        "total": gib(est.total_bytes),
        "delta": ("+" if delta >= 0 else "-") + gib(abs(delta)),
        "chart": _chart(page, totals),
        "extension": _extension(page) if page.beyond_native else None,
    }


def _extension(page: Page) -> dict[str, Any]:
    """Beyond the native context: the rope scaling the card documents (and the released
    config.json leaves out), what this context costs against the native one, the card's caveat.
    The scaling itself allocates nothing in llama.cpp: the cost is the longer context's."""
    model, s = page.model, page.state
    native = model.native_context_length
    assert native is not None and model.rope_scaling_factor is not None  # beyond_native
    at_native = estimate_memory(page.config, s.options(n_ctx=native))
    return {
        "method": model.get_rope_scaling_display(),
        "factor": f"{model.rope_scaling_factor:g}",
        "original": f"{model.rope_scaling_original_context:,}",
        "native": f"{native:,}",
        "ctx": f"{s.ctx:,}",
        "kv_native": gib(at_native.kv.bytes),
        "total_native": gib(at_native.total_bytes),
        "caveat": model.rope_scaling_caveat,
        "source": model.sources.get("rope_scaling", ""),
    }


def _context_curve(page: Page) -> tuple[int, list[float]]:
    """Total bytes at the default context, and GiB at every context stop: the same for every
    context, so computed once per model, quant and KV settings (per revision); a model
    estimated from a pasted config is not kept."""
    s = page.state

    def compute() -> tuple[int, list[float]]:
        default = MemoryOptions(file_type=s.quant, n_ctx=min(page.model.context_length, 8192))
        return (
            estimate_memory(page.config, default).total_bytes,
            [
                estimate_memory(page.config, s.options(n_ctx=c)).total_bytes / GIB
                for c in page.context_stops
            ],
        )

    if page.model.pk is None:
        return compute()
    return page.snap.remember(("context-curve", page.model.pk, s.quant, s.kv, s.fa), compute)


def _chart(page: Page, totals: list[float]) -> dict[str, Any]:
    """Total memory versus context (GiB), device capacity lines and the current point."""
    stops = page.context_stops
    current = page.est.total_bytes / GIB
    top = max(*totals, current) * 1.1
    lines = [c for c in CAPACITY_LINES_GB if c <= top * 1.5]
    top = max(top, *(lines or [0]))
    n = len(stops)
    x = Scale(0, max(n - 1, 1), PAD, WIDTH - PAD)
    y = Scale(0, top, HEIGHT - PAD, PAD)
    # The current context sits between two stops: place it on the log scale between them.
    ctx = page.state.ctx
    i = next((k for k in range(n) if stops[k] >= ctx), n - 1)
    position: float = i
    if i > 0 and stops[i] != ctx:
        low, high = stops[i - 1], stops[i]
        position = i - 1 + math.log(ctx / low) / math.log(high / low)
    right, base_y = WIDTH - 40, HEIGHT - PAD
    # The native context (a stop of its own): beyond it the model needs its rope scaling.
    native_mark = ""
    if native := page.model.native_context_length:
        nx = x(stops.index(native))
        native_mark = (
            f'<line class="cap" x1="{nx:.1f}" x2="{nx:.1f}" y1="{PAD}" y2="{base_y}"/>'
            f'<text class="cap-label" x="{nx + 3:.1f}" y="{PAD + 10}">'
            f"native {escape(tokens(native))}</text>"
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "pad": PAD,
        "right": right,
        "base_y": base_y,
        "path": path([(x(k), y(t)) for k, t in enumerate(totals)]),
        "lines": mark_safe("".join(
            f'<line class="cap" x1="{PAD}" x2="{right}" y1="{y(c):.1f}" y2="{y(c):.1f}"/>'
            f'<text class="cap-label" x="{WIDTH - 38}" y="{y(c):.1f}">{c} GiB</text>'
            for c in lines
        ) + native_mark),
        "ticks": mark_safe("".join(
            f'<text class="tick" x="{x(k):.1f}" y="{base_y + 14}">{escape(tokens(c))}</text>'
            for k, c in enumerate(stops) if k % 2 == 0
        )),
        "point": (f"{x(position):.1f}", f"{y(current):.1f}", f"{current:.1f} GiB"),
    }  # fmt: skip


PANEL = Panel("memory", 10, EVERY_CHANGE, build)
