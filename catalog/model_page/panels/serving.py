"""The serving plan: memory for every user's cache against what the GPUs can use, the grade,
aggregate and per-user decode speed, time to first token, vLLM's paged cache, a chart of
tokens/s as users grow, and how many users the GPUs serve at a speed and time-to-first-token
target (estimator.serving.serve). The memory bar and the chart's ticks are written here
(measured hot path, as the memory panel's chart)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from benchmarks import calibration
from catalog.charts import Scale, path
from catalog.model_page.panels import DEVICE, EVERY_CHANGE, FORCED, HOST, SERVING, Panel
from catalog.snapshot import engine
from estimator.fit import usable_bytes
from estimator.memory import estimate_memory
from estimator.serving import MAX_USERS, Serving, Target, serve
from estimator.throughput import band, decode_tokens_per_s
from estimator.units import gib, tps

if TYPE_CHECKING:
    from catalog.model_page.page import Page

CHART_USER_STOPS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# The serving target's controls (catalog.model_page.state): they change this panel alone.
TARGET = frozenset({"per_user_tps", "ttft_s", "prompt_tokens"})
WIDTH, HEIGHT, PAD = 560, 220, 40


def build(page: Page) -> dict[str, Any]:
    serving = page.serving
    memory, device = serving.memory, serving.device
    assert device is not None  # the page always has a device
    # What the GPUs can use in the user's machine (the report's figure assumes the defaults).
    s = page.state
    usable = usable_bytes(page.serving_device, s.machine(page.serving_device, s.gpu_count))
    total = memory.total_bytes
    scale = max(total, usable)
    bar, x = [], 0.0
    for label, amount, cls in (
        ("Weights", memory.weights_bytes, "w"),
        ("KV cache", memory.kv_cache_bytes, "k"),
        ("Buffers", memory.compute_buffer_bytes + memory.output_buffer_bytes, "b"),
    ):
        pct = 100 * amount / scale
        bar.append(
            {"label": label, "size": gib(amount), "x": f"{x:.2f}", "pct": f"{pct:.2f}", "cls": cls}
        )
        x += pct
    vllm = serving.vllm
    usable_pct = f"{100 * usable / scale:.2f}"
    rects = "".join(
        f'<rect class="seg {b["cls"]}" x="{b["x"]}" y="1" width="{b["pct"]}" height="6">'
        f"<title>{b['label']}: {b['size']}</title></rect>"
        for b in bar
    )
    legend = "".join(
        f'<li><span class="swatch {b["cls"]}"></span>{b["label"]} {b["size"]}</li>' for b in bar
    )
    return {
        "memory": memory,
        "device": device,
        "vllm": vllm,
        "vllm_concurrency": f"{vllm.vllm_kv_tokens / s.ctx:.1f}" if vllm else "",
        "bar": mark_safe(
            '<svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" '
            f'aria-label="Memory needed against usable memory">{rects}<line class="usable" '
            f'x1="{usable_pct}" x2="{usable_pct}" y1="0" y2="8"/></svg>\n'
            f'<ul class="legend">{legend}<li>usable {gib(usable)}</li></ul>'
        ),
        "half_ctx": s.ctx // 2,
        "chart": _chart(page),
        "target": _target(page),
        "bands": _bands(page),
        "calibration": calibration.note(page.snap.calibration, engine(page.state.runtime)),
    }


def _bands(page: Page) -> dict[str, Any]:
    """The error bands of this device's speeds (throughput.BANDS: the residuals of measured runs
    on its backend, /methodology/#residuals)."""
    backend = "vLLM" if page.state.runtime == "vllm" else page.serving_device.engine_backend
    batched = "serving" if backend == "vLLM" else "batched"
    return {
        "backend": backend,
        "batched": round(100 * band(backend, batched)),
        "prefill": round(100 * band(page.serving_device.engine_backend, "prefill")),
    }


def _chart(page: Page) -> dict[str, Any]:
    """Aggregate and per-user decode tokens/s at 1 to 256 users of the current context."""
    s = page.state
    points = []
    for users in CHART_USER_STOPS:
        est = estimate_memory(page.config, s.options(n_ctx=s.ctx * users, n_seq=users))
        aggregate, per_user = decode_tokens_per_s(
            page.inv, est.weights, est.kv, page.serving_device, depth=s.ctx // 2, batch=users
        )
        points.append((users, aggregate, per_user))
    top = max(p[1] for p in points) * 1.1
    x = Scale(0, len(points) - 1, PAD, WIDTH - PAD)
    y = Scale(0, top, HEIGHT - PAD, PAD)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "pad": PAD,
        "right": WIDTH - 40,
        "base_y": HEIGHT - PAD,
        "title_y": PAD - 8,
        "aggregate": path([(x(i), y(p[1])) for i, p in enumerate(points)]),
        "per_user": path([(x(i), y(p[2])) for i, p in enumerate(points)]),
        "ticks": mark_safe(
            "".join(
                f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - PAD + 14}">{p[0]}</text>'
                for i, p in enumerate(points)
            )
        ),
        "top": f"{top:.0f}",
    }


def _target(page: Page) -> dict[str, Any]:
    """How many users the chosen GPUs serve at the state's target, what they get there and
    which bound stops more; for "why not", what one user gets."""
    s = page.state
    result: Serving = serve(
        page.config, s.options(), page.serving_device,
        Target(s.per_user_tps, s.ttft_s, s.prompt_tokens), ctx=s.ctx, runtime=s.runtime,
    )  # fmt: skip
    best, single = result.at_target, result.single
    users = best.users if best else 0
    return {
        "result": result,
        "users": users,
        "fit_users": result.users_that_fit,
        "max_users": MAX_USERS,
        "aggregate": tps(best.aggregate_tokens_per_s) if best else "",
        "per_user": tps(best.per_user_tokens_per_s) if best else "",
        "ttft": _seconds(best.ttft_s) if best else "",
        "single_tps": tps(single.per_user_tokens_per_s) if single else "",
        "single_ttft": _seconds(single.ttft_s) if single else "",
        "target_tps": f"{s.per_user_tps:g}",
        "target_ttft": f"{s.ttft_s:g}",
        # The plan for that many users, where the users slider reaches.
        "query": s.query(users=min(users, page.max_users)) if users else "",
        "beyond_slider": users > page.max_users,
    }


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}"


PANEL = Panel("serving", 30, EVERY_CHANGE | DEVICE | SERVING | HOST | FORCED | TARGET, build)
