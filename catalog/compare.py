"""Side-by-side comparison of a few models: specs, memory at common settings, speed on one
device. Every figure comes from the catalog (with its source on the model page) or the
estimator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.models import Model
from catalog.snapshot import DEFAULT_GPU, Snapshot
from estimator.estimate import max_contexts
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


def parse(params_: Mapping[str, str], known: Sequence[str], gpus: Sequence[str]) -> Choice:
    """The models, device and context asked for; unknown or surplus values are reported."""
    notes: list[str] = []
    slugs: list[str] = []
    raw = [s.strip() for s in str(params_.get("models", "")).split(",") if s.strip()]
    if add := str(params_.get("add", "")).strip():
        raw.append(add)
    for slug in raw:
        if slug in slugs:
            continue
        if slug not in known:
            notes.append(f"No model {slug[:60]!r} in our catalog; left out.")
        elif len(slugs) == MAX_MODELS:
            notes.append(f"At most {MAX_MODELS} models side by side; {slug} left out.")
        else:
            slugs.append(slug)
    gpu = str(params_.get("gpu") or DEFAULT_GPU)
    if gpu not in gpus:
        notes.append(f"No device {gpu[:60]!r}; using the default.")
        gpu = DEFAULT_GPU
    try:
        ctx = int(params_.get("ctx") or DEFAULT_CTX)
    except ValueError:
        notes.append("The context must be a number; using 8K.")
        ctx = DEFAULT_CTX
    if ctx not in CONTEXTS:
        notes.append(f"Context is one of {', '.join(tokens(c) for c in CONTEXTS)}; using 8K.")
        ctx = DEFAULT_CTX
    return Choice(slugs, gpu, ctx, notes)


def columns(models: Sequence[Model], choice: Choice, snap: Snapshot) -> list[dict[str, Any]]:
    """One column per model: specs, then memory and speed at the chosen settings."""
    device = snap.single[choice.gpu]
    out = []
    for model in models:
        config = model.estimator_config
        inv = inventory(config)
        ctx = min(choice.ctx, model.context_length)
        per_quant = []
        for quant in QUANTS:
            opts = MemoryOptions(file_type=quant, n_ctx=ctx)
            est = estimate_memory(config, opts)
            f = fit(inv, est, device)
            (most,) = max_contexts(config, opts, [device])
            per_quant.append(
                {
                    "quant": quant,
                    "file": gib(est.file_bytes),
                    "kv": gib(est.kv.bytes),
                    "total": gib(est.total_bytes),
                    "grade": f.grade,
                    "reason": f.reason,
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


def query(choice: Choice, *, models: Sequence[str] | None = None) -> str:
    """The query string of a comparison (with other models, for the remove links)."""
    slugs = choice.slugs if models is None else models
    return f"models={','.join(slugs)}&gpu={choice.gpu}&ctx={choice.ctx}"


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
