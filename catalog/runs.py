"""What runs on a machine (catalog.machines.Chosen): per catalog model, the recommended quant
(estimator.recommend) at a context and how it runs — whole in the device's memory, or with MoE
experts or layers left in system RAM as llama.cpp's own --fit places them (estimator/plan.py) —
with its decode speed. The home page and the hardware pages list it; `table` computes every
model once per catalog revision, machine and context and keeps the result in the shared cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from catalog import parts
from catalog.machines import Chosen
from catalog.models import Model
from catalog.snapshot import Snapshot
from estimator.memory import KeyedConfig
from estimator.recommend import USABLE_TPS, Run, best_run

__all__ = ["USABLE_TPS", "Cell", "table", "warm"]

CACHE_SECONDS = 3600


@dataclass(frozen=True)
class Cell:
    """What a list shows of one model on one machine (small: kept in the shared cache)."""

    quant: str
    status: str  # fits, tight, offload, no (estimator.fit)
    grade: str
    reason: str
    tps: float | None  # decode tokens/s of one user
    total_bytes: int  # the model at this quant and context, with its cache and buffers
    ctx: int  # the context it is for (the asked one, or the model's maximum if smaller)

    @property
    def runs(self) -> bool:
        return self.status != "no"


def cell(run: Run, ctx: int) -> Cell:
    f = run.fit
    return Cell(run.quant, f.status, f.grade, f.reason, f.decode_tokens_per_s,
                run.est.total_bytes, ctx)  # fmt: skip


def table(chosen: Chosen, ctx: int, snap: Snapshot) -> dict[str, Cell]:
    """Model slug -> its best run on the machine at `ctx` (capped at each model's maximum), for
    every catalog model: once per catalog revision (and calibration), machine and context, in
    the shared cache (a page reads it only to render a part it has not kept)."""
    key = parts.key("machine-runs", snap.revision, chosen.key(), ctx)
    found: dict[str, Cell] | None = cache.get(key)
    if found is None:
        found = _compute(chosen, ctx, snap)
        cache.set(key, found, CACHE_SECONDS)
    return found


def _compute(chosen: Chosen, ctx: int, snap: Snapshot) -> dict[str, Cell]:
    device, machine = chosen.estimator(snap)
    out = {}
    for slug, config, context_length in configs(snap):
        n_ctx = min(ctx, context_length)
        out[slug] = cell(best_run(config, n_ctx, device, machine), n_ctx)
    return out


def configs(snap: Snapshot) -> list[tuple[str, KeyedConfig, int]]:
    """Every model's slug, config (keyed for the estimator) and maximum context: read once per
    catalog revision."""
    return snap.remember(
        "keyed-configs",
        lambda: [
            (slug, KeyedConfig(config), context_length)
            for slug, config, context_length in Model.objects.values_list(
                "slug", "config", "context_length"
            )
        ],
    )


def warm(snap: Snapshot) -> None:
    """Compute what a machine's table needs that is the same for every machine (each model's
    weights and placement sizes at each quant of the ladder, per process): so the first visitor
    to pick a machine in a new web process waits ~0.1 s, not ~3 s. A CPU alone with a little
    RAM walks every model down the whole ladder."""
    from catalog.machines import pick

    chosen = pick({"gpu": "cpu", "ram": "8"}, snap).chosen
    if chosen is not None:
        _compute(chosen, 8192, snap)
