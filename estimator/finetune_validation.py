"""Fine-tuning memory (estimator/finetune.py) against published measurements
(estimator/data/finetune/published.csv: each row with its source, framework and settings).

Each row becomes the recipe its framework runs: LitGPT (bf16-true), torchtune and Answer.AI's
fsdp_qlora train in pure BF16 with PyTorch's AdamW on BF16 parameters; the PEFT README's runs
load the model in FP32; a row's own optimizer, checkpointing and sharding override these. A
row is compared only when its settings are stated (method, model, sequence length, micro-batch,
and LoRA rank and targets for LoRA); the framework's own estimates ("what" = estimate) are
listed apart and never scored. Measured "GB" are 10^9 bytes, "GiB" 2^30."""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from estimator.finetune import Recipe, finetune_memory

DATA = Path(__file__).parent / "data" / "finetune"
# How each framework trains when a row does not say: precision, optimizer, checkpointing and
# the stack's own rules (estimator.finetune.STACKS). Answer.AI's fsdp_qlora is PEFT-style LoRA
# on bitsandbytes, in pure BF16.
FRAMEWORKS = {
    "lit-gpt": ("bf16", "adamw_bf16", False, "litgpt"),
    "torchtune": ("bf16", "adamw_bf16", True, "torchtune"),
    "fsdp_qlora": ("bf16", "adamw_bf16", True, "hf"),
    "peft": ("mixed", "adamw", False, "hf"),
}
# What the rules do not model; a row whose notes say one of these is listed, not scored.
NOT_MODELLED = {
    "optimizer_in_bwd": "optimizer step fused into the backward pass",
    "activation offloading": "activations offloaded to CPU",
    "set_per_process_memory_fraction": "estimated from runs under a memory cap",
    "encoder-decoder": "encoder-decoder model",
}
OFFLOAD = ("cpu offload of params on", "fsdp_offload_params true", "with cpu offloading",
           "fsdp_cpu_offload true")  # fmt: skip
OPTIMIZERS = {
    "adamw": "adamw", "adamw8bit": "adamw8bit", "paged_adamw8bit": "adamw8bit",
    "paged_adamw32bit": "adamw", "sgd": "sgd",
}  # fmt: skip
UNITS = {"GB": 10**9, "GiB": 1 << 30}


@dataclass(frozen=True)
class Comparison:
    row: dict[str, str]
    recipe: Recipe
    estimate_bytes: int
    measured_bytes: int

    @property
    def ratio(self) -> float:
        return self.estimate_bytes / self.measured_bytes

    @property
    def framework(self) -> str:
        return _framework(self.row["framework"])


@dataclass(frozen=True)
class Summary:
    framework: str
    rows: int
    median_ratio: float
    median_error: float
    within_15: float  # share of rows within 15 %


def _framework(name: str) -> str:
    return next((k for k in FRAMEWORKS if name.startswith(k)), name)


@cache
def configs() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((DATA / "models.json").read_text())
    return data


def rows() -> list[dict[str, str]]:
    with (DATA / "published.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def recipe_of(row: dict[str, str]) -> Recipe | None:
    """The recipe a measured row ran, or None when its settings are not all stated."""
    framework = _framework(row["framework"])
    if row["what"] == "estimate" or framework not in FRAMEWORKS:
        return None
    if not (row["seq_len"] and row["micro_batch"]) or row["model_hf_id"] not in configs():
        return None
    method = row["method"]
    targets = row["lora_targets"].replace("mlp,lm_head", "mlp").replace(",output", "")
    targets = targets.replace("query_key_value", "q,k,v").replace("proj", "")
    if method != "full" and not (row["lora_rank"] and targets):
        return None
    if not_modelled(row):
        return None
    precision, optimizer, checkpointing, stack = FRAMEWORKS[framework]
    if row["base_dtype"] == "fp32":
        precision = "fp32"
    optimizer = OPTIMIZERS.get(row["optimizer"], optimizer)
    if row["grad_checkpointing"]:
        checkpointing = row["grad_checkpointing"] == "on"
    sharding = {"none": "ddp", "ddp": "ddp", "zero2": "zero2"}.get(row["sharding"], "fsdp")
    return Recipe(
        method=method, lora_rank=int(row["lora_rank"] or 8), targets=targets or "all-linear",
        seq_len=int(row["seq_len"]), micro_batch=int(row["micro_batch"]),
        grad_checkpointing=checkpointing, optimizer=optimizer, precision=precision,
        n_gpus=int(row["n_gpus"] or 1), sharding=sharding,
        cpu_offload=offloaded(row), stack=stack,
    )  # fmt: skip


def offloaded(row: dict[str, str]) -> bool:
    notes = row["notes"].lower()
    return any(o in notes for o in OFFLOAD) and "offloading disabled" not in notes


def not_modelled(row: dict[str, str]) -> str:
    """Why a measured row is not scored ("" when it is)."""
    notes = row["notes"].lower()
    return next((why for key, why in NOT_MODELLED.items() if key.lower() in notes), "")


def comparisons() -> list[Comparison]:
    out = []
    for row in rows():
        recipe = recipe_of(row)
        if recipe is None:
            continue
        try:
            m = finetune_memory(configs()[row["model_hf_id"]], recipe)
        except ValueError:
            continue
        ours = m.total_bytes
        measured = round(float(row["measured"]) * UNITS[row["unit"]])
        out.append(Comparison(row, recipe, ours, measured))
    return out


def summary() -> list[Summary]:
    """Per framework, then all together."""
    found = comparisons()
    groups: dict[str, list[Comparison]] = {}
    for c in found:
        groups.setdefault(c.framework, []).append(c)
    groups["all"] = found
    out = []
    for name, cs in groups.items():
        errors = [abs(c.ratio - 1) for c in cs]
        out.append(
            Summary(
                framework=name,
                rows=len(cs),
                median_ratio=statistics.median(c.ratio for c in cs),
                median_error=statistics.median(errors),
                within_15=sum(e <= 0.15 for e in errors) / len(cs),
            )
        )
    return out
