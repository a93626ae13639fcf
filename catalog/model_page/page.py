"""The live part of a model page: `Page` computes what the panels show for one model and state,
each panel on first use; `LiveParts` renders the parts a request needs, from the cache when
this exact state was rendered before (then the model is not even read)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from benchmarks import published
from catalog import parts
from catalog.machine_state import CUSTOM, RAM_STOPS, UBATCH_STOPS
from catalog.model_page import panels
from catalog.model_page.panels import finetune as finetune_panel
from catalog.model_page.state import KV_TYPES, USER_STOPS, PageState, context_stops, quant_choices
from catalog.models import Hardware, Model
from catalog.snapshot import Brief, Snapshot, class_of, device_groups, engine
from estimator import limits, recommend
from estimator.devices import from_hardware
from estimator.estimate import estimate
from estimator.fit import Fit, fit
from estimator.inventory import Inventory
from estimator.machine import (
    DEFAULT_RAM_BYTES,
    DEFAULT_RAM_PRESET,
    RAM_PRESETS,
    RESERVED_BY_SEGMENT,
    Machine,
    apple_default_wired,
    default_reserved,
)
from estimator.memory import MemoryEstimate, config_key, estimate_memory, inventory
from estimator.plan import Plan, make_plan
from estimator.report import Estimate
from estimator.throughput import BACKENDS
from estimator.units import gib, tokens

TEMPLATE = "catalog/model_detail.html"


class Page:
    """What the panels show for one model and state; a panel's figures are computed once, when
    its template (or another panel) first asks for them."""

    kv_types = KV_TYPES
    max_users = limits.PAGE_USERS.high
    max_gpus = limits.PAGE_GPU_COUNT.high

    def __init__(self, model: Model, state: PageState, snap: Snapshot, prices: str = "") -> None:
        self.model = model
        self.state = state
        self.snap = snap
        self.prices = prices  # the prices token: which rental offers are current
        self.config = model.estimator_config
        self.inv: Inventory = inventory(self.config)
        self.hardware: Hardware = snap.by_slug.get(state.gpu) or snap.devices[0]
        # The quant, device, similar-model and FAQ figures are llama.cpp's (GGUF files); only
        # the serving plan runs on the chosen runtime, so only it takes that runtime's
        # calibration.
        calibration, cls = snap.calibration, class_of(self.hardware)
        # llama.cpp's backend for the chosen device: the user's, where the device runs it.
        self.backends = BACKENDS.get(cls, ())
        backend = state.backend if state.backend in self.backends else ""
        self.device = replace(
            from_hardware(self.hardware, state.gpu_count, calibration.value(cls, "llama.cpp")),
            backend=backend,
        )
        self.serving_device = replace(
            from_hardware(
                self.hardware, state.gpu_count, calibration.value(cls, engine(state.runtime))
            ),
            backend=backend,
        )
        self.device_label = self.hardware.name + (
            f" x {state.gpu_count}" if state.gpu_count > 1 else ""
        )
        self._data: dict[str, Mapping[str, Any]] = {}

    def data(self, name: str) -> Mapping[str, Any]:
        """What panel `name` shows (computed on first use; panels may use each other's)."""
        if name not in self._data:
            self._data[name] = panels.BY_NAME[name].build(self)
        return self._data[name]

    def shown(self, names: Sequence[str]) -> list[Shown]:
        """The panels to render, in page order."""
        return [Shown(self, p) for p in panels.PANELS if p.name in names]

    @cached_property
    def query(self) -> str:
        return self.state.query()

    @cached_property
    def est(self) -> MemoryEstimate:
        """Memory for one user at the current settings."""
        return estimate_memory(self.config, self.state.options())

    @cached_property
    def serving(self) -> Estimate:
        """Memory, fit and speed for `users` sequences of `ctx` tokens on the chosen GPUs in the
        user's machine, with llama.cpp's placement forced where the user forces it (at the
        default -ub: the rentals hold the same memory)."""
        s, c = self.state, self.state.computer
        llama = s.runtime == "llama.cpp"
        return estimate(
            self.config,
            s.options(n_ctx=s.ctx * s.users, n_seq=s.users),
            self.serving_device,
            depth=s.ctx // 2,
            batch=s.users,
            runtime=s.runtime,
            machine=s.machine(self.serving_device, s.gpu_count),
            ngl=c.ngl if llama else None,
            n_cpu_moe=c.ncmoe if llama else None,
        )

    @cached_property
    def machine(self) -> Machine:
        """The chosen GPUs in the user's machine."""
        return self.state.machine(self.device, self.state.gpu_count)

    @cached_property
    def advice(self) -> recommend.Advice:
        """The quant to use on the chosen GPUs in the user's machine, for one user at `ctx`, and
        what it trades (estimator.recommend.advise): what the quants panel and the FAQ say."""
        s = self.state
        return recommend.advise(self.config, s.ctx, self.device, self.machine, s.options())

    @cached_property
    def plan_fit(self) -> Fit:
        """Grade, reason and speed of one user at `ctx` on the user's machine, at its -ub and
        with the placement it forces (by default the devices panel's figure for this device)."""
        s, c = self.state, self.state.computer
        opts = s.plan_options()
        est = self.est if self.est.opts == opts else estimate_memory(self.config, opts)
        return fit(self.inv, est, self.device, machine=self.machine, ngl=c.ngl, n_cpu_moe=c.ncmoe)

    @cached_property
    def plan(self) -> Plan:
        """llama.cpp's placement of one user at `ctx` on the user's machine (estimator.plan)."""
        return self.plan_at(self.state.computer.ub)

    def plan_at(self, ubatch: int) -> Plan:
        """The same plan at another -ub (the compute buffers, and so the placement, change);
        make_plan keeps its plans, so the one `fit` made is not made again."""
        c = self.state.computer
        return make_plan(
            config_key(self.config), self.state.options(n_ubatch=ubatch), self.machine,
            ngl=c.ngl, n_cpu_moe=c.ncmoe,
        )  # fmt: skip

    @cached_property
    def ctx_label(self) -> str:
        return tokens(self.state.ctx)

    @cached_property
    def context_stops(self) -> list[int]:
        return context_stops(self.model.context_length, self.model.native_context_length)

    @cached_property
    def beyond_native(self) -> bool:
        """The context is beyond the model's native one: runtimes need the rope scaling its card
        documents switched on (catalog.models.Model.native_context_length)."""
        return self.model.needs_rope_scaling(self.state.ctx)

    @cached_property
    def quant_names(self) -> tuple[str, ...]:
        return quant_choices(self.model)

    @cached_property
    def ctx_slider(self) -> dict[str, Any]:
        """The context slider, with the stop of the native context (its tick) when there is one."""
        native = self.model.native_context_length
        slider = _slider(self.context_stops, self.state.ctx)
        return slider | {"native": self.context_stops.index(native) if native else None}

    @cached_property
    def users_slider(self) -> dict[str, Any]:
        return _slider(USER_STOPS, self.state.users)

    @cached_property
    def gpu_options(self) -> list[tuple[str, list[Hardware]]]:
        return device_groups(self.snap)

    ub_stops = UBATCH_STOPS
    finetune_methods = tuple(finetune_panel.LABELS.items())
    ram_types = (*((k, label) for k, (label, _) in RAM_PRESETS.items()), (CUSTOM, "Custom (GB/s)"))

    @cached_property
    def ram_stops(self) -> list[int]:
        """The RAM sizes offered, with the state's own if it is not one of them."""
        return sorted({*RAM_STOPS, self.state.computer.ram})

    @cached_property
    def machine_defaults(self) -> str:
        """What a blank machine field means for the chosen device, in words."""
        m, hw = self.machine, self.hardware
        if m.gpu is None:
            return (
                f"{hw.name}: a CPU alone; the plan takes your RAM size at the CPU's own "
                f"{m.ram_bandwidth_gbps:g} GB/s. The GPU fields do not apply."
            )
        if m.unified:
            own = (
                f"{hw.name} is its own RAM ({gib(m.ram_bytes)} at {m.gpu.bandwidth_gbps:g} GB/s): "
                "the RAM size and type do not apply."
            )
            if hw.kind == "apple":
                return own + (
                    f" Blank wired limit: {gib(apple_default_wired(m.ram_bytes))} (macOS lets the "
                    "GPU wire 2/3 of RAM up to 36 GB, 3/4 above; sudo sysctl "
                    "iogpu.wired_limit_mb=N raises it)."
                )
            return own + " Blank GPU limit: all of it but what the system keeps."
        classes = ", ".join(f"{k} {gib(v)}" for k, v in RESERVED_BY_SEGMENT.items())
        return (
            f"Blank GPU memory in use: {gib(default_reserved(m.gpu))} on the {hw.name} "
            f"(by class of card: {classes}: the display, the desktop, the driver's context). "
            f"The wired limit is for Apple chips. Defaults: {gib(DEFAULT_RAM_BYTES)} of "
            f"{RAM_PRESETS[DEFAULT_RAM_PRESET][0]} ({RAM_PRESETS[DEFAULT_RAM_PRESET][1]:g} GB/s), "
            f"-ub {limits.UBATCH.default} (llama.cpp's)."
        )


class Shown:
    """A panel as its template sees it: the template's name and the panel's figures."""

    def __init__(self, page: Page, panel: panels.Panel) -> None:
        self.page, self.panel = page, panel
        self.template = panel.template

    @cached_property
    def data(self) -> Mapping[str, Any]:
        return self.page.data(self.panel.name)


def _slider(stops: Sequence[int], value: int) -> dict[str, Any]:
    """A range input over stops: its index positions and the stop nearest the value."""
    index = min(range(len(stops)), key=lambda i: abs(math.log(stops[i] / value)))
    return {"stops": ",".join(map(str, stops)), "last": len(stops) - 1, "index": index,
            "min": stops[0]}  # fmt: skip


def panels_for(target: str | None, trigger_name: str | None) -> tuple[str, tuple[str, ...]]:
    """The template part an HTMX request gets and the panels in it: a control's panels as
    out-of-band swaps ("update"), the devices panel for its own links, the live region and the
    controls for a quant row's link ("relink"), else the live region."""
    if target == "panel-devices":
        return "panels", ("devices",)
    if target == "live":  # a quant row: the state changes outside the form, so it comes back too
        return "relink", panels.NAMES
    if trigger_name in panels.CONTROLS:
        return "update", panels.changed_by(trigger_name)
    return "live", panels.NAMES


class LiveParts:
    """Parts of the model page's live region, from the cache when this exact state was
    rendered before; the model is read and the numbers computed only on a miss."""

    def __init__(
        self, snap: Snapshot, prices: str, brief: Brief, state: PageState,
        model: Model | None = None,
    ) -> None:  # fmt: skip
        self.snap, self.brief, self.state, self.model = snap, brief, state, model
        self.prices = prices
        self.hits = 0

    @cached_property
    def page(self) -> Page:
        model = self.model or self.snap.model(self.brief.pk)
        return Page(model, self.state, self.snap, self.prices)

    def render(self, part: str, names: tuple[str, ...]) -> SafeString:
        # The parts are a pure function of the revisions, the model and the state; a state
        # that needed corrections is not cached.
        key = None
        if not self.state.notes:
            key = parts.key(
                "model-page", self.snap.revision, self.prices, published.index().token,
                self.brief.slug, part, ",".join(names), self.state.query(),
            )  # fmt: skip
        html, hit = parts.recent.get_or_render(key, lambda: self._render(part, names))
        self.hits += hit
        return html

    def _render(self, part: str, names: tuple[str, ...]) -> str:
        page = self.page
        return render_to_string(
            f"{TEMPLATE}#{part}",
            {
                "model": page.model,
                "state": self.state,
                "page": page,
                "shown": page.shown(names),
                "oob": part == "update",
                "oob_controls": part == "relink",
                # The chosen device's machine defaults, beside the form, follow the plan.
                "oob_defaults": part == "update" and "plan" in names,
                # The backends on offer follow the device: a device change brings them back.
                "oob_backend": part == "update" and "plan" in names,
            },
        )
