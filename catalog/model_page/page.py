"""The live part of a model page: `Page` computes what the panels show for one model and state,
each panel on first use; `LiveParts` renders the parts a request needs, from the cache when
this exact state was rendered before (then the model is not even read)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from catalog import parts
from catalog.model_page import panels
from catalog.model_page.state import KV_TYPES, USER_STOPS, PageState, context_stops, quant_choices
from catalog.models import Hardware, Model
from catalog.snapshot import Brief, Snapshot, class_of, device_groups, engine
from estimator import limits
from estimator.devices import from_hardware
from estimator.estimate import estimate
from estimator.inventory import Inventory
from estimator.memory import MemoryEstimate, estimate_memory, inventory
from estimator.report import Estimate
from estimator.units import tokens

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
        self.device = from_hardware(
            self.hardware, state.gpu_count, calibration.value(cls, "llama.cpp")
        )
        self.serving_device = from_hardware(
            self.hardware, state.gpu_count, calibration.value(cls, engine(state.runtime))
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
        """Memory, fit and speed for `users` sequences of `ctx` tokens on the chosen GPUs."""
        s = self.state
        return estimate(
            self.config,
            s.options(n_ctx=s.ctx * s.users, n_seq=s.users),
            self.serving_device,
            depth=s.ctx // 2,
            batch=s.users,
            runtime=s.runtime,
        )

    @cached_property
    def ctx_label(self) -> str:
        return tokens(self.state.ctx)

    @cached_property
    def context_stops(self) -> list[int]:
        return context_stops(self.model.context_length)

    @cached_property
    def quant_names(self) -> tuple[str, ...]:
        return quant_choices(self.model)

    @cached_property
    def ctx_slider(self) -> dict[str, Any]:
        return _slider(self.context_stops, self.state.ctx)

    @cached_property
    def users_slider(self) -> dict[str, Any]:
        return _slider(USER_STOPS, self.state.users)

    @cached_property
    def gpu_options(self) -> list[tuple[str, list[Hardware]]]:
        return device_groups(self.snap)


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
                "model-page", self.snap.revision, self.prices, self.brief.slug, part,
                ",".join(names), self.state.query(),
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
            },
        )
