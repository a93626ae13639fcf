"""Side-by-side comparison of a few models: specs, memory at common settings, fit and speed on
one machine (a device and the RAM around it: catalog.machines). Every figure comes from the
catalog (with its source on the model page) or the estimator. Rendered once per catalog
revision and comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.template.loader import render_to_string

from catalog import machines, parts
from catalog.forms import LenientForm
from catalog.machine_state import MachineState
from catalog.models import Model
from catalog.snapshot import DEFAULT_GPU, Snapshot, device_groups
from estimator.estimate import max_context
from estimator.fit import fit
from estimator.memory import MemoryOptions, estimate_memory, inventory
from estimator.units import gib, params, tokens

MAX_MODELS = 6
QUANTS = ("Q4_K_M", "Q8_0")
CONTEXTS = (4096, 8192, 32768, 131072)
DEFAULT_CTX = 8192


@dataclass(frozen=True)
class Choice:
    slugs: list[str]  # the models compared, in the order asked for
    gpu: str
    ctx: int
    notes: list[str]
    machine: MachineState = field(default_factory=MachineState)  # the RAM around the device

    def chosen(self, snap: Snapshot) -> machines.Chosen:
        """The machine: one of the device with the machine's RAM."""
        hw = snap.by_slug[self.gpu]
        return machines.Chosen(hw, 1, hw.memory_bytes, self.machine)


class CompareForm(LenientForm):
    """The comparison's query string: models (comma-separated, checked against the catalog by
    `parse`), a model to add, the device and the context. Device choices are set on a subclass
    per catalog (`compare_form`)."""

    models = forms.CharField(label="Models", required=False, initial="")
    add = forms.CharField(label="Add a model", required=False, initial="")
    gpu = forms.ChoiceField(label="Device", choices=[], initial=DEFAULT_GPU)
    ctx = forms.TypedChoiceField(
        label="Context", coerce=int, choices=[(c, tokens(c)) for c in CONTEXTS],
        initial=DEFAULT_CTX,
    )  # fmt: skip


def compare_form(snap: Snapshot) -> type[CompareForm]:
    """The form with the catalog's devices to choose from, made once per catalog revision (a
    lenient form's fields are shared: choices are set on a subclass)."""

    def make() -> type[CompareForm]:
        choices = [(d.slug, d.name) for d in snap.devices]
        gpu = forms.ChoiceField(label="Device", choices=choices, initial=DEFAULT_GPU)
        return type("CatalogCompareForm", (CompareForm,), {"gpu": gpu})

    return snap.remember("compare-form", make)


def parse(params_: Mapping[str, str], snap: Snapshot) -> Choice:
    """The models, device, context and machine asked for; unknown or surplus values are noted."""
    form = compare_form(snap)(params_)
    values = form.read()
    machine = machines.read_state(params_, machines.kind_of(snap.by_slug[values["gpu"]]))
    form.notes.extend(machine.notes)
    slugs: list[str] = []
    raw = [s.strip() for s in values["models"].split(",") if s.strip()]
    if values["add"]:
        raw.append(values["add"])
    for slug in raw:
        if slug in slugs:
            continue
        if slug not in snap.models:
            form.notes.append(f"No model {slug[:60]!r} in our catalog; left out.")
        elif len(slugs) == MAX_MODELS:
            form.notes.append(f"At most {MAX_MODELS} models side by side; {slug} left out.")
        else:
            slugs.append(slug)
    return Choice(slugs, values["gpu"], values["ctx"], form.notes, machine)


def names(snap: Snapshot) -> dict[str, str]:
    """Every model's name by slug, in name order (read once per catalog revision)."""
    return snap.remember(
        "model-names", lambda: dict(Model.objects.order_by("name").values_list("slug", "name"))
    )


def content(choice: Choice, snap: Snapshot) -> str:
    """The comparison: once per catalog revision and choice (not kept when the choice needed
    corrections)."""
    key = None if choice.notes else parts.key("compare", snap.revision, query(choice, snap))
    return parts.cached(key, lambda: _render(choice, snap))


def _render(choice: Choice, snap: Snapshot) -> str:
    found = {
        m.slug: m
        for m in Model.objects.with_listing()
        .prefetch_related("scores")
        .filter(slug__in=choice.slugs)
    }
    models = [found[s] for s in choice.slugs]
    shown = columns(models, choice, snap)
    for column in shown:
        others = [s for s in choice.slugs if s != column["model"].slug]
        column["remove"] = query(choice, snap, models=others)
    chosen = choice.chosen(snap)
    context = {
        "choice": choice,
        "chosen": chosen,
        "machine_controls": machines.controls(choice.machine, (chosen.kind,)),
        "columns": shown,
        "quants": QUANTS,
        "contexts": [(c, tokens(c)) for c in CONTEXTS],
        "devices": device_groups(snap),
        "all_models": names(snap).items(),
        "scores": scores(models),
    }
    return render_to_string("catalog/compare.html#content", context)


def columns(models: Sequence[Model], choice: Choice, snap: Snapshot) -> list[dict[str, Any]]:
    """One column per model: specs, then memory, fit and speed at the chosen settings."""
    device, machine = choice.chosen(snap).estimator(snap)
    out = []
    for model in models:
        config = model.estimator_config
        inv = inventory(config)
        ctx = min(choice.ctx, model.context_length)
        per_quant = []
        for quant in QUANTS:
            opts = MemoryOptions(file_type=quant, n_ctx=ctx)
            est = estimate_memory(config, opts)
            f = fit(inv, est, device, machine=machine)
            most = max_context(config, opts, device, machine)
            per_quant.append(
                {
                    "quant": quant,
                    "file": gib(est.file_bytes),
                    "kv": gib(est.kv.bytes),
                    "total": gib(est.total_bytes),
                    "grade": f.grade,
                    "reason": f.reason,
                    "in_ram": f.status == "offload",
                    "max_context": tokens(most) if most else "—",
                }
            )
        out.append(
            {
                "model": model,
                "params": params(model.params_total),
                "active": params(model.params_active) if model.is_moe else "",
                "context": tokens(model.context_length),
                "ctx_used": tokens(ctx),
                "ctx_capped": ctx < choice.ctx,
                "modalities": [m.code for m in model.input_modalities.all()],
                "quants": per_quant,
            }
        )
    return out


def query(choice: Choice, snap: Snapshot, *, models: Sequence[str] | None = None) -> str:
    """The query string of a comparison (with other models, for the remove links)."""
    slugs = choice.slugs if models is None else models
    machine = urlencode(choice.chosen(snap).machine_items())
    base = f"models={','.join(slugs)}&gpu={choice.gpu}&ctx={choice.ctx}"
    return f"{base}&{machine}" if machine else base


def scores(models: Sequence[Model]) -> list[dict[str, Any]]:
    """Published scores side by side: a row per benchmark and setting any of them reports."""
    labels = sorted({(s.benchmark, s.setting, s.unit) for m in models for s in m.scores.all()})
    rows = []
    for benchmark, setting, unit in labels:
        cells = []
        for m in models:
            found = [s for s in m.scores.all() if (s.benchmark, s.setting) == (benchmark, setting)]
            cells.append({"value": f"{found[0].value:g}{unit}", "source": found[0].source}
                         if found else None)  # fmt: skip
        rows.append({"label": f"{benchmark} ({setting})" if setting else benchmark, "cells": cells})
    return rows
