"""The live panels of the model page: state from the query string, numbers from the estimator.

`Page` computes each panel lazily, so an HTMX request renders (and computes) only the panels
the control it came from can change (`AFFECTS`). Display strings are formatted here, once, so
templates only place them.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from django.utils.safestring import SafeString

from benchmarks import calibration
from benchmarks.models import ENGINES
from catalog import markup
from catalog.models import Hardware, Model, Revision
from catalog.templatetags.units import gib, params, tokens
from cloudprices.rentals import cheapest_rentals
from estimator.devices import device_class, from_hardware
from estimator.estimate import estimate, max_contexts
from estimator.fit import fit
from estimator.inventory import Inventory
from estimator.memory import (
    KeyedConfig,
    MemoryEstimate,
    MemoryOptions,
    estimate_memory,
    inventory,
    with_file_type,
)
from estimator.quant import FILE_TYPES
from estimator.throughput import Device, decode_tokens_per_s

GIB = 1 << 30
DEFAULT_GPU = "rtx-4090"  # a popular 24 GB GPU
# About 1.5x apart: fine where most people work, a dozen steps up to a million tokens.
CONTEXT_STOPS = (
    512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536, 98304,
    131072, 196608, 262144, 393216, 524288, 786432, 1048576,
)  # fmt: skip
USER_STOPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
CHART_USER_STOPS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CAPACITY_LINES_GB = (8, 12, 16, 24, 32, 48, 80)
MAX_USERS = 256
MAX_GPUS = 8
PAGE_KV_TYPES = ("f16", "q8_0", "q4_0")
QUANT_CHOICES = tuple(q for q in FILE_TYPES if q not in ("Q2_K_S", "IQ3_S", "IQ3_XS", "IQ2_S"))
RUNTIMES = ("llama.cpp", "vllm")
SORTS = ("memory", "speed")
QUALITY = tomllib.loads((Path(__file__).parent / "data" / "quant_quality.toml").read_text())

PANELS = ("memory", "quants", "serving", "rentals", "devices", "similar", "faq", "run")
# The panels each control can change (HTMX sends the control's name as HX-Trigger-Name); the
# summary line above the panels always comes back. Quant, context, KV type and flash attention
# change every panel. Panels are for one user except the serving plan.
AFFECTS: dict[str, tuple[str, ...]] = {
    "users": ("serving", "rentals", "run"),
    "runtime": ("serving", "rentals", "run"),
    "gpu": ("quants", "serving", "similar", "faq", "run"),
    "gpu_count": ("quants", "serving", "similar", "faq", "run"),
    **{name: PANELS for name in ("quant", "ctx", "kv", "fa")},
}
SEGMENT_GROUPS = (
    ("Consumer GPUs", ("consumer",)),
    ("Workstation and datacenter GPUs", ("workstation", "datacenter")),
    ("Apple silicon", ("apple",)),
    ("CPUs", ("cpu",)),
)


@dataclass(frozen=True)
class PageState:
    quant: str
    ctx: int
    kv: str
    fa: bool
    users: int
    gpu: str
    gpu_count: int
    runtime: str
    fits: bool = False  # devices panel: only devices where it fits
    sort: str = "memory"  # devices panel: by memory or by speed
    notes: tuple[str, ...] = field(default=())

    def options(self, **changes: Any) -> MemoryOptions:
        """llama.cpp options for one user at this context (the serving plan passes n_seq)."""
        values = {
            "file_type": self.quant,
            "n_ctx": self.ctx,
            "type_k": self.kv,
            "type_v": self.kv,
            "flash_attn": self.fa,
        }
        return MemoryOptions(**(values | changes))

    def query(self, **changes: Any) -> str:
        """The query string of this state with some values changed (devices view if not default)."""
        values: dict[str, Any] = {
            "quant": self.quant,
            "ctx": self.ctx,
            "kv": self.kv,
            "fa": "on" if self.fa else "off",
            "users": self.users,
            "gpu": self.gpu,
            "gpu_count": self.gpu_count,
            "runtime": self.runtime,
            "fits": "1" if self.fits else "",
            "sort": "" if self.sort == "memory" else self.sort,
        }
        values.update(changes)
        return "&".join(f"{k}={v}" for k, v in values.items() if v != "")


def _int(raw: str | None, name: str, default: int, low: int, high: int, notes: list[str]) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(float(raw))
    except (TypeError, ValueError, OverflowError):
        notes.append(f"{name} must be a number; using {default}.")
        return default
    if value < low or value > high:
        clamped = min(max(value, low), high)
        notes.append(f"{name} {value} is out of range ({low} to {high}); using {clamped}.")
        return clamped
    return value


def _choice(
    raw: str | None, name: str, default: str, choices: Sequence[str], notes: list[str]
) -> str:
    if raw in (None, ""):
        return default
    if raw in choices:
        return raw
    lowered = {c.lower(): c for c in choices}
    if raw.lower() in lowered:
        return lowered[raw.lower()]
    notes.append(f"{name} {raw[:40]!r} is not one of the options; using {default}.")
    return default


def parse_state(
    params: Mapping[str, str], model: Model | Brief, gpu_slugs: Sequence[str]
) -> PageState:
    """Read and clamp the page state; every correction is reported in `notes`."""
    notes: list[str] = []
    max_ctx = model.context_length
    default_ctx = min(max_ctx, 8192)
    ctx = _int(params.get("ctx"), "Context", default_ctx, min(512, max_ctx), max_ctx, notes)
    fa = params.get("fa", "on") not in ("off", "0", "false")
    kv = _choice(params.get("kv"), "KV cache type", "f16", PAGE_KV_TYPES, notes)
    if kv != "f16" and not fa:
        notes.append("A quantized KV cache needs flash attention; flash attention is on.")
        fa = True
    return PageState(
        quant=_choice(params.get("quant"), "Quant", "Q4_K_M", quant_choices(model), notes),
        ctx=ctx,
        kv=kv,
        fa=fa,
        users=_int(params.get("users"), "Users", 1, 1, MAX_USERS, notes),
        gpu=_choice(params.get("gpu"), "GPU", DEFAULT_GPU, gpu_slugs, notes),
        gpu_count=_int(params.get("gpu_count"), "GPU count", 1, 1, MAX_GPUS, notes),
        runtime=_choice(params.get("runtime"), "Runtime", "llama.cpp", RUNTIMES, notes),
        fits=params.get("fits") == "1",
        sort=_choice(params.get("sort"), "Sort", "memory", SORTS, notes),
        notes=tuple(notes),
    )


def quant_choices(model: Model | Brief) -> tuple[str, ...]:
    """File types worth offering: MXFP4_MOE only for mixture-of-experts models."""
    if model.is_moe:
        return QUANT_CHOICES
    return tuple(q for q in QUANT_CHOICES if q != "MXFP4_MOE")


def context_stops(model: Model) -> list[int]:
    stops = [s for s in CONTEXT_STOPS if s < model.context_length]
    return [*stops, model.context_length]


@dataclass(frozen=True)
class Brief:
    """What reading the state and finding a cached rendering take: no config, no joins."""

    pk: int
    slug: str
    context_length: int
    is_moe: bool


@dataclass
class Snapshot:
    """This process's copy of what every model page shares, valid for one catalog revision and
    one calibration from community runs."""

    revision: str
    models: dict[str, Brief]
    devices: tuple[Hardware, ...]
    by_slug: dict[str, Hardware]
    by_pk: dict[int, Hardware]
    single: dict[str, Device]  # one of each device, as the estimator sees it
    links: dict[str, str]  # device slug -> its escaped <a> (rows of the devices and rentals)
    calibration: calibration.Calibration  # community runs' factors on decode speed
    similar: dict[int, list[Listing]] = field(default_factory=dict)  # model pk -> rows
    full: dict[int, Model] = field(default_factory=dict)  # model pk -> the row, read once
    # (model pk, quant, KV type, flash attention) -> Page._context_curve
    curves: dict[tuple[int, str, str, bool], tuple[int, list[float]]] = field(default_factory=dict)

    def model(self, pk: int) -> Model:
        """A model for computing panels (its config is parsed and keyed once per revision)."""
        if pk not in self.full:
            self.full[pk] = Model.objects.get(pk=pk)
        return self.full[pk]


_snapshot: Snapshot | None = None


def device_groups(snap: Snapshot) -> list[tuple[str, list[Hardware]]]:
    """The catalog's devices by segment group, for device pickers."""
    groups = []
    for label, segments in SEGMENT_GROUPS:
        members = [d for d in snap.devices if d.segment in segments]
        if members:
            groups.append((label, members))
    return groups


def _class(hw: Hardware) -> str:
    return device_class(hw.vendor, hw.kind)


def engine(runtime: str) -> str:
    """The engine whose calibration applies to a runtime of the page (llama.cpp or vLLM)."""
    return ENGINES[runtime]


def snapshot() -> tuple[Snapshot, str]:
    """The devices (and, filled lazily, models and similar models) for the current catalog
    revision, and the current prices token."""
    global _snapshot
    tokens = Revision.current()
    calib = calibration.current(tokens.benchmarks)
    revision = f"{tokens.catalog}.{calib.digest}"  # decode speeds change with the calibration
    snap = _snapshot
    if snap is None or snap.revision != revision:
        devices = tuple(Hardware.objects.all())
        rows = Model.objects.values_list(
            "pk", "slug", "context_length", "params_active", "params_language"
        )
        snap = Snapshot(
            revision,
            {slug: Brief(pk, slug, ctx, active < lang) for pk, slug, ctx, active, lang in rows},
            devices,
            {d.slug: d for d in devices},
            {d.pk: d for d in devices},
            {d.slug: from_hardware(d, 1, calib.value(_class(d))) for d in devices},
            {d.slug: markup.link(d.get_absolute_url(), d.name) for d in devices},
            calib,
        )
        _snapshot = snap
    snap.calibration = calib  # the same factors; its token names the current benchmarks
    return snap, tokens.prices


@dataclass(frozen=True)
class Listing:
    """What the similar-models table shows of a model, read once per catalog revision."""

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


def _listing(model: Model) -> Listing:
    return Listing(
        model.pk,
        model.slug,
        model.name,
        model.get_absolute_url(),
        params(model.params_total),
        model.context_length,
        tuple(m.code for m in model.input_modalities.all()),
        model.license,
        model.commercial_use,
        model.estimator_config,
    )


def _similar_candidates(model: Model, snap: Snapshot) -> list[Listing]:
    """The current model and up to 8 others of half to twice its size, newest first."""
    if model.pk is None:  # a model estimated from its config: not in the catalog, not cached
        return [_transient_listing(model), *_others(model)]
    if model.pk not in snap.similar:
        current = Model.objects.prefetch_related("input_modalities").get(pk=model.pk)
        snap.similar[model.pk] = [_listing(current), *_others(model)]
    return snap.similar[model.pk]


def _others(model: Model) -> list[Listing]:
    low, high = model.params_total // 2, model.params_total * 2
    others = (
        Model.objects.with_listing()
        .exclude(pk=model.pk)
        .filter(params_total__gte=low, params_total__lte=high)
        .order_by("-release_date", "name")[:8]
    )
    return [_listing(m) for m in others]


def _transient_listing(model: Model) -> Listing:
    return Listing(
        None,
        model.slug,
        model.name,
        model.get_absolute_url(),
        params(model.params_total),
        model.context_length,
        ("text",),
        model.license,
        model.commercial_use,
        model.estimator_config,
    )


def _slider(stops: Sequence[int], value: int) -> dict[str, Any]:
    """A range input over stops: its index positions and the stop nearest the value."""
    index = min(range(len(stops)), key=lambda i: abs(math.log(stops[i] / value)))
    return {
        "stops": ",".join(map(str, stops)),
        "last": len(stops) - 1,
        "index": index,
        "min": stops[0],
    }


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))


def _tps(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} t/s" if value >= 10 else f"{value:.1f} t/s"


@lru_cache(maxsize=64)
def _quality(quant: str) -> dict[str, str] | None:
    row = QUALITY["types"].get(quant)
    if row is None:
        return None
    ppl = 100 * (row["ppl"] / QUALITY["ppl_f16"] - 1)
    imatrix = "" if row["imatrix"] == "none" else f", imatrix {row['imatrix']}"
    return {
        "kld": f"{row['kld']:.4f}",
        "ppl": f"+{ppl:.1f}%" if ppl >= 0.05 else "±0%",
        "title": f"measured on {QUALITY['model']} by llama.cpp{imatrix}",
    }


class Page:
    """The live panels for one model and state; each is computed on first use."""

    def __init__(self, model: Model, state: PageState, snap: Snapshot, prices: str = "") -> None:
        self.model = model
        self.prices = prices  # the prices token: which rental offers are current
        self.state = state
        self.snap = snap
        self.config = model.estimator_config
        self.inv: Inventory = inventory(self.config)
        self.hardware = snap.by_slug.get(state.gpu) or snap.devices[0]
        # The quant, similar-model and FAQ figures are llama.cpp's (GGUF files); only the
        # serving plan runs on the chosen runtime, so only it takes that runtime's calibration.
        cls = _class(self.hardware)
        self.device = from_hardware(
            self.hardware, state.gpu_count, snap.calibration.value(cls, "llama.cpp")
        )
        self.serving_device = from_hardware(
            self.hardware, state.gpu_count, snap.calibration.value(cls, engine(state.runtime))
        )
        self.device_label = self.hardware.name + (
            f" x {state.gpu_count}" if state.gpu_count > 1 else ""
        )

    kv_types = PAGE_KV_TYPES
    max_users = MAX_USERS
    max_gpus = MAX_GPUS
    quality_model = QUALITY["model"]
    quality_source = QUALITY["source"]

    @cached_property
    def query(self) -> str:
        return self.state.query()

    @cached_property
    def ctx_label(self) -> str:
        return tokens(self.state.ctx)

    @cached_property
    def half_ctx(self) -> int:
        return self.state.ctx // 2

    @cached_property
    def quant_names(self) -> tuple[str, ...]:
        return quant_choices(self.model)

    @cached_property
    def ctx_slider(self) -> dict[str, Any]:
        return _slider(context_stops(self.model), self.state.ctx)

    @cached_property
    def users_slider(self) -> dict[str, Any]:
        return _slider(USER_STOPS, self.state.users)

    @cached_property
    def gpu_options(self) -> list[tuple[str, list[Hardware]]]:
        return device_groups(self.snap)

    @cached_property
    def devices_calibration(self) -> str:
        return calibration.note(self.snap.calibration, "llama.cpp")

    @cached_property
    def serving_calibration(self) -> str:
        return calibration.note(self.snap.calibration, engine(self.state.runtime))

    @cached_property
    def device_links(self) -> dict[str, str]:
        """The devices panel's own links: toggle "only where it fits" and the sort order."""
        s = self.state
        return {
            "fits": s.query(fits="" if s.fits else "1"),
            "sort": s.query(sort="" if s.sort == "speed" else "speed"),
        }

    @cached_property
    def est(self) -> MemoryEstimate:
        """Memory for one user at the current settings."""
        return estimate_memory(self.config, self.state.options())

    @cached_property
    def memory(self) -> dict[str, Any]:
        """KV cache parts, buffers and total, the change from the default, and the chart."""
        est = self.est
        delta = est.total_bytes - self._context_curve[0]
        kv = est.kv
        return {
            "weights": gib(est.weights_bytes),
            "kv": gib(kv.bytes),
            "kv_full": gib(kv.full_bytes) if kv.swa_bytes else "",
            "kv_swa": gib(kv.swa_bytes) if kv.swa_bytes else "",
            "swa_cells": kv.cells_swa,
            "recurrent": gib(kv.recurrent_bytes) if kv.recurrent_bytes else "",
            "is_mla": self.model.model_type in ("deepseek_v2", "deepseek_v3", "kimi_k2"),
            "buffers": gib(est.compute_buffer_bytes + est.output_buffer_bytes),
            "total": gib(est.total_bytes),
            "delta": ("+" if delta >= 0 else "-") + gib(abs(delta)),
            "chart": markup.memory_chart(self._memory_chart(), self.state.quant),
        }

    @property
    def _context_curve(self) -> tuple[int, list[float]]:
        """Total bytes at the default context, and GiB at every context stop: the same for
        every context, so computed once per model, quant and KV settings (per revision);
        a model estimated from a pasted config is not kept."""
        s = self.state
        key = (self.model.pk, s.quant, s.kv, s.fa)
        curve = self.snap.curves.get(key) if self.model.pk is not None else None
        if curve is None:
            default = MemoryOptions(file_type=s.quant, n_ctx=min(self.model.context_length, 8192))
            curve = (
                estimate_memory(self.config, default).total_bytes,
                [
                    estimate_memory(self.config, s.options(n_ctx=c)).total_bytes / GIB
                    for c in context_stops(self.model)
                ],
            )
            if self.model.pk is not None:
                self.snap.curves[key] = curve
        return curve

    def _memory_chart(self) -> dict[str, Any]:
        """Total memory versus context (GiB), device capacity lines and the current point."""
        stops = context_stops(self.model)
        totals = self._context_curve[1]
        current = self.est.total_bytes / GIB
        top = max(*totals, current) * 1.1
        lines = [c for c in CAPACITY_LINES_GB if c <= top * 1.5]
        top = max(top, *(lines or [0]))
        width, height, pad = 560, 220, 40
        n = len(stops)

        def x(i: float) -> float:
            return pad + (width - 2 * pad) * (i / max(n - 1, 1))

        def y(amount: float) -> float:
            return height - pad - (height - 2 * pad) * (amount / top)

        # The current context sits between two stops: place it on the log scale between them.
        i = next((k for k in range(n) if stops[k] >= self.state.ctx), n - 1)
        if i > 0 and stops[i] != self.state.ctx:
            lo, hi = stops[i - 1], stops[i]
            i_pos = i - 1 + math.log(self.state.ctx / lo) / math.log(hi / lo)
        else:
            i_pos = i
        return {
            "width": width,
            "height": height,
            "pad": pad,
            "right": width - 40,
            "label_x": width - 38,
            "base_y": height - pad,
            "tick_y": height - pad + 14,
            "path": _path([(x(k), y(t)) for k, t in enumerate(totals)]),
            "ticks": [(f"{x(k):.1f}", tokens(c)) for k, c in enumerate(stops) if k % 2 == 0],
            "lines": [(f"{y(c):.1f}", f"{c} GiB") for c in lines],
            "point": (f"{x(i_pos):.1f}", f"{y(current):.1f}", f"{current:.1f} GiB"),
        }

    @cached_property
    def quants(self) -> list[dict[str, Any]]:
        """Every file type at the current context for one user: size, memory, fit, quality."""
        rows = []
        rest = self.query.partition("&")[2]  # the query after "quant=...", which comes first
        for quant in quant_choices(self.model):
            est = with_file_type(self.config, self.est, quant)
            f = fit(self.inv, est, self.device)
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
                    "current": quant == self.state.quant,
                    "query": f"quant={quant}&{rest}",
                }
            )
        return rows

    @cached_property
    def devices(self) -> list[tuple[str, list[dict[str, Any]], SafeString]]:
        """Grade, reason, decode speed and maximum context on every catalog device, grouped."""
        est, snap = self.est, self.snap
        most_by_slug = dict(
            zip(
                snap.single,
                max_contexts(self.config, self.state.options(), list(snap.single.values())),
                strict=True,
            )
        )
        groups = []
        for label, segments in SEGMENT_GROUPS:
            rows = []
            for hw in snap.devices:
                if hw.segment not in segments:
                    continue
                f = fit(self.inv, est, snap.single[hw.slug])
                if self.state.fits and f.status not in ("fits", "tight"):
                    continue
                most = most_by_slug[hw.slug]
                rows.append(
                    {
                        "name": hw.name,
                        "link": self.snap.links[hw.slug],
                        "grade": f.grade,
                        "status": f.status,
                        "reason": f.reason,
                        "tps_value": f.decode_tokens_per_s,
                        "tps": _tps(f.decode_tokens_per_s),
                        "max_context": tokens(most) if most else "—",
                        "memory_bytes": hw.memory_bytes,
                    }
                )
            if self.state.sort == "speed":
                rows.sort(key=lambda r: -(r["tps_value"] or 0))
            if rows:
                groups.append((label, rows, markup.join(markup.device_row, rows)))
        return groups

    @cached_property
    def quants_html(self) -> SafeString:
        return markup.join(markup.quant_row, self.quants)

    @cached_property
    def serving(self) -> dict[str, Any]:
        """Memory and throughput for `users` sequences of `ctx` tokens each on the chosen GPUs."""
        s = self.state
        opts = s.options(n_ctx=s.ctx * s.users, n_seq=s.users)
        report = estimate(
            self.config,
            opts,
            self.serving_device,
            depth=s.ctx // 2,
            batch=s.users,
            runtime=s.runtime,
        ).as_dict()
        total, usable = report["total_bytes"], report["usable_bytes"]
        scale = max(total, usable)
        parts = [
            ("Weights", report["weights_bytes"], "w"),
            ("KV cache", report["kv_cache_bytes"], "k"),
            ("Buffers", report["compute_buffer_bytes"] + report["output_buffer_bytes"], "b"),
        ]
        bar, x = [], 0.0
        for label, amount, cls in parts:
            pct = 100 * amount / scale
            bar.append(
                {
                    "label": label,
                    "size": gib(amount),
                    "x": f"{x:.2f}",
                    "pct": f"{pct:.2f}",
                    "cls": cls,
                }
            )
            x += pct
        kv_tokens = report.get("vllm_kv_tokens")
        return {
            "report": report,
            "vllm_concurrency": f"{kv_tokens / s.ctx:.1f}" if kv_tokens is not None else "",
            "bar": markup.memory_bar(bar, f"{100 * usable / scale:.2f}", gib(usable)),
            "chart": markup.users_chart(self._users_chart()),
        }

    def _users_chart(self) -> dict[str, Any]:
        s = self.state
        points = []
        for users in CHART_USER_STOPS:
            est = estimate_memory(self.config, s.options(n_ctx=s.ctx * users, n_seq=users))
            agg, per_user = decode_tokens_per_s(
                self.inv, est.weights, est.kv, self.serving_device, depth=s.ctx // 2, batch=users
            )
            points.append((users, agg, per_user))
        top = max(p[1] for p in points) * 1.1
        width, height, pad = 560, 220, 40

        def x(i: int) -> float:
            return pad + (width - 2 * pad) * i / (len(points) - 1)

        def y(v: float) -> float:
            return height - pad - (height - 2 * pad) * v / top

        return {
            "width": width,
            "height": height,
            "pad": pad,
            "right": width - 40,
            "base_y": height - pad,
            "tick_y": height - pad + 14,
            "title_y": pad - 8,
            "aggregate": _path([(x(i), y(p[1])) for i, p in enumerate(points)]),
            "per_user": _path([(x(i), y(p[2])) for i, p in enumerate(points)]),
            "ticks": [(f"{x(i):.1f}", str(p[0])) for i, p in enumerate(points)],
            "top": f"{top:.0f}",
        }

    @cached_property
    def rentals(self) -> dict[str, Any]:
        """The cheapest current cloud offers that serve this state, with cost per 1M tokens."""
        s = self.state
        need = self.serving["report"]["total_bytes"]
        rows = cheapest_rentals(
            self.config,
            s.options(n_ctx=s.ctx * s.users, n_seq=s.users),
            users=s.users,
            depth=s.ctx // 2,
            runtime=s.runtime,
            need_bytes=need,
            devices=self.snap.by_pk,
            prices_token=self.prices,
            calibration=self.snap.calibration.by_class(engine(s.runtime)),
        )
        lowest = min((r.cost_per_million for r in rows), default=None)
        return {
            "need": gib(need),
            "lowest": lowest,
            "rows_html": markup.join(
                markup.rental_row,
                [
                    {
                        "gpus": f"{r.offer.gpu_count} \u00d7 " if r.offer.gpu_count > 1 else "",
                        "link": self.snap.links[r.hardware.slug],
                        "where": r.offer.where,
                        "region": r.offer.region,
                        "price": f"${r.price_per_hour:.2f}",
                        "tps": f"{r.aggregate_tokens_per_s:.0f} t/s",
                        "cost": f"${r.cost_per_million:.2f}",
                        "lowest": r.cost_per_million == lowest,
                        "as_of": r.offer.age(),
                    }
                    for r in rows
                ],
            ),
        }

    @cached_property
    def similar(self) -> list[dict[str, Any]]:
        """Models of similar size at the current quant and context on the chosen GPUs."""
        rows = []
        for other in _similar_candidates(self.model, self.snap):
            ctx = min(self.state.ctx, other.context_length)
            est = estimate_memory(other.config, self.state.options(n_ctx=ctx))
            f = fit(inventory(other.config), est, self.device)
            rows.append(
                {
                    "model": other,
                    "current": other.pk == self.model.pk,
                    "context": tokens(other.context_length),
                    "total": gib(est.total_bytes),
                    "grade": f.grade,
                    "tps": _tps(f.decode_tokens_per_s) if f.decode_tokens_per_s else "",
                }
            )
        return rows

    @cached_property
    def compare_query(self) -> str:
        """The similar models on the compare page, this one first, at the same GPU."""
        slugs = [r["model"].slug for r in self.similar][:6]
        return f"models={','.join(slugs)}&gpu={self.state.gpu}"

    @cached_property
    def similar_html(self) -> SafeString:
        query = self.query
        return markup.join(lambda r: markup.similar_row(r, query), self.similar)

    @cached_property
    def commands(self) -> list[Command]:
        """Every runtime's command for the current state."""
        return run_commands(self.model, self.state, self.serving["report"])

    @cached_property
    def commands_html(self) -> SafeString:
        return markup.commands(self.commands)

    @cached_property
    def faq(self) -> list[tuple[str, str]]:
        """Questions answered from the same numbers the panels show (never separately computed)."""
        return faq(self.model, self.state, self.device_label, self.est, self.quants, self.devices)

    @cached_property
    def faq_html(self) -> SafeString:
        return markup.join(markup.faq_item, self.faq)

    @cached_property
    def faq_jsonld(self) -> str:
        return faq_jsonld(self.faq)


@dataclass(frozen=True)
class Command:
    runtime: str
    text: str = ""  # the command, or "" when the runtime cannot run this model
    note: str = ""  # why not, or what the command assumes
    link: str = ""  # an app deeplink, where the runtime has one


def run_commands(model: Model, state: PageState, report: Mapping[str, Any]) -> list[Command]:
    """How to run it with the current state and the catalog's real repo ids, for every runtime."""
    fa = "on" if state.fa else "off"
    kv_flags = f" -ctk {state.kv} -ctv {state.kv}" if state.kv != "f16" else ""
    np_flag = f" -np {state.users}" if state.users > 1 else ""
    cmds: list[Command] = []
    if model.gguf_repo:
        slots = f" ({state.users} slots of {state.ctx} tokens)" if state.users > 1 else ""
        cmds.append(Command(
            "llama.cpp",
            f"llama-server -hf {model.gguf_repo}:{state.quant} -c {state.ctx * state.users}"
            f"{np_flag} -fa {fa}{kv_flags} -ngl 999",
            f"-c is the context of all slots together{slots}.",
        ))  # fmt: skip
        cmds.append(Command(
            "LM Studio",
            f"lms get {model.gguf_repo}@{state.quant}\n"
            f"lms load --context-length {state.ctx} --gpu max",
            f"Or search the app for {model.gguf_repo}; `lms load` asks which download to load.",
            f"lmstudio://open_from_hf?model={model.gguf_repo}",
        ))  # fmt: skip
    else:
        no_gguf = "No GGUF build of this model is listed in our catalog."
        cmds += [Command("llama.cpp", note=no_gguf), Command("LM Studio", note=no_gguf)]
    if model.ollama_tag:
        cmds.append(Command(
            "Ollama",
            f"ollama run {model.ollama_tag}\n\n# Modelfile for a {tokens(state.ctx)} context:\n"
            f"FROM {model.ollama_tag}\nPARAMETER num_ctx {state.ctx}",
            "Ollama picks its own quantization for a tag (usually Q4_K_M).",
        ))  # fmt: skip
    else:
        cmds.append(
            Command("Ollama", note="The Ollama library has no tag for this model in our catalog.")
        )
    if model.transformers_id:
        util = report.get("vllm_gpu_memory_utilization", 0.9)
        cmds.append(Command(
            "vLLM",
            f"vllm serve {model.transformers_id} --max-model-len {state.ctx} "
            f"--gpu-memory-utilization {util} --max-num-seqs {state.users}"
            + (f" --tensor-parallel-size {state.gpu_count}" if state.gpu_count > 1 else ""),
            "vLLM serves the original BF16 weights, not a GGUF quant.",
        ))  # fmt: skip
        cmds.append(Command(
            "Transformers",
            "from transformers import pipeline\n\n"
            f'pipe = pipeline("text-generation", model="{model.transformers_id}", '
            'torch_dtype="auto", device_map="auto")\n'
            'print(pipe("Hello!", max_new_tokens=64)[0]["generated_text"])',
        ))  # fmt: skip
    else:
        no_hf = "No Transformers checkpoint of this model is listed in our catalog."
        cmds += [Command("vLLM", note=no_hf), Command("Transformers", note=no_hf)]
    if model.mlx_repo:
        cmds.append(Command(
            "MLX",
            f'mlx_lm.generate --model {model.mlx_repo} --prompt "Hello!" --max-tokens 256',
            "Apple silicon only.",
        ))  # fmt: skip
    else:
        cmds.append(
            Command("MLX", note="No MLX conversion of this model is listed in our catalog.")
        )
    return cmds


def faq(
    model: Model,
    state: PageState,
    device_label: str,
    est: MemoryEstimate,
    quants: Sequence[Mapping[str, Any]],
    groups: Sequence[tuple[str, Sequence[Mapping[str, Any]], str]],
) -> list[tuple[str, str]]:
    """Questions answered from the panels' own numbers."""
    at = f"At {state.quant} with a {tokens(state.ctx)} context"
    items = [(
        f"How much memory does {model.name} need?",
        f"{at}: {gib(est.total_bytes)} in all — {gib(est.weights_bytes)} of weights, "
        f"{gib(est.kv.bytes)} of KV cache and "
        f"{gib(est.compute_buffer_bytes + est.output_buffer_bytes)} of buffers (llama.cpp).",
    )]  # fmt: skip
    fitting = [q for q in quants if q["status"] == "fits"]
    question = f"Which quantization should I use on {device_label}?"
    if fitting:
        best = max(fitting, key=lambda q: q["bpw"])
        items.append((
            question,
            f"The highest-precision file that fits with headroom is {best['quant']} "
            f"({best['bpw_text']} bits per weight, {best['total']} at this context).",
        ))  # fmt: skip
    else:
        items.append((question, f"None fits with headroom at a {tokens(state.ctx)} context."))
    rows = {label: list(rows) for label, rows, _ in groups}
    consumer = [r for r in rows.get("Consumer GPUs", []) if r["grade"] in "ABC"]
    if consumer:
        smallest = min(consumer, key=lambda r: (r["memory_bytes"], -(r["tps_value"] or 0)))
        fastest = max(consumer, key=lambda r: r["tps_value"] or 0)
        answer = (
            f"{at}, the smallest consumer GPU in our catalog that runs it well is the "
            f"{smallest['name']} (grade {smallest['grade']}, {smallest['tps']}); the fastest "
            f"is the {fastest['name']} ({fastest['tps']})."
        )
    else:
        answer = f"{at}, no consumer GPU in our catalog runs it with a grade of C or better."
    items.append((f"Which GPU do I need for {model.name}?", answer))
    apple = rows.get("Apple silicon", [])
    good = [r for r in apple if r["grade"] in "ABC"]
    if apple:
        answer = (
            f"Yes: it runs on {len(good)} of {len(apple)} Apple chips in our catalog at these "
            f"settings, e.g. {good[0]['name']} at about {good[0]['tps']}."
            if good
            else "Not at these settings: no Apple chip in our catalog fits it with headroom."
        )
        items.append((f"Can I run {model.name} on a Mac?", answer))
    cpus = rows.get("CPUs", [])
    if cpus:
        ok = [r for r in cpus if r["status"] in ("fits", "tight")]
        answer = (
            f"It fits in system memory ({gib(est.total_bytes)}), but decode is bound by RAM "
            f"bandwidth: {', '.join(f'{r["name"]}: {r["tps"]}' for r in ok)}."
            if ok
            else f"Not with the memory our CPU entries assume: it needs {gib(est.total_bytes)}."
        )
        items.append((f"Can I run {model.name} on a CPU?", answer))
    smallest_file = min(quants, key=lambda q: q["total_bytes"])
    items.append((
        f"Does {model.name} run on a phone?",
        f"Only if the phone can give it {smallest_file['total']}: that is the smallest total, "
        f"{smallest_file['quant']} at a {tokens(state.ctx)} context. We do not list phones, "
        "so we do not grade them.",
    ))  # fmt: skip
    items.append((
        f"What is the context length of {model.name}?",
        f"{tokens(model.context_length)} tokens ({model.context_length:,}).",
    ))  # fmt: skip
    if not model.in_catalog:
        licence = "We do not know: it is not in our catalog. Read its licence before any use."
    else:
        licence = f"{'Yes' if model.commercial_use else 'No'}: {model.license}." + (
            f" {model.license_note}" if model.license_note else ""
        )
    items.append((f"Can {model.name} be used commercially?", licence))
    items.append((
        f"How many parameters does {model.name} have?",
        f"{params(model.params_total)} in total"
        + (f", {params(model.params_active)} active per token" if model.is_moe else "") + ".",
    ))  # fmt: skip
    return items


def faq_jsonld(items: Sequence[tuple[str, str]]) -> str:
    """schema.org FAQPage as JSON safe to embed in a <script type="application/ld+json">."""
    data = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "mainEntity": [
            {"@type": "Question", "name": q, "acceptedAnswer": {"@type": "Answer", "text": a}}
            for q, a in items
        ],
    }
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def cache_key(revisions: str, slug: str, state: PageState, part: str) -> str | None:
    """Where a rendered part is cached; None when the request needed corrections.

    The panels are a pure function of the catalog and prices revisions, the model and the
    state, so a rendered part is shared by every visitor. The key is a digest of all that:
    short enough for any cache backend's key checks.
    """
    if state.notes:
        return None
    name = f"{revisions}:{slug}:{part}:{state.query()}".encode()
    return f"model-page:{hashlib.blake2b(name, digest_size=16).hexdigest()}"


def panels_for(target: str | None, trigger_name: str | None) -> tuple[str, tuple[str, ...]]:
    """The template part an HTMX request gets and the panels in it: a control's panels as
    out-of-band swaps ("update"), the devices panel for its own links, the live region and the
    controls for a quant row's link ("relink"), else the live region."""
    if target == "panel-devices":
        return "panel-devices", ("devices",)
    if target == "live":  # a quant row: the state changes outside the form, so it comes back too
        return "relink", PANELS
    if trigger_name in AFFECTS:
        return "update", AFFECTS[trigger_name]
    return "live", PANELS
