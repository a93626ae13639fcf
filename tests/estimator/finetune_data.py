"""The model configs the fine-tuning validation needs, copied from the catalog into
estimator/data/finetune/models.json (the estimator reads no catalog file): every model a
published fine-tuning measurement (estimator/data/finetune/published.csv) names, by its
Hugging Face id; a base model not in the catalog by its instruction-tuned release of the same
shapes (ALIASES).

    python tests/estimator/finetune_data.py      # rewrite the copy from the catalog

tests/estimator/test_finetune.py keeps the copy equal to the catalog."""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "estimator" / "data" / "finetune"
# Same config.json shapes, another release (instruction tuning changes no tensor).
ALIASES = {
    "meta-llama/Llama-3.2-1B": "meta-llama/Llama-3.2-1B-Instruct",
    "meta-llama/Meta-Llama-3.1-8B": "meta-llama/Llama-3.1-8B",
    "google/gemma-2-2b": "google/gemma-2-2b-it",
    "google/gemma-2-9b": "google/gemma-2-9b-it",
    "unsloth/Mistral-7B-v0.2": "mistralai/Mistral-7B-Instruct-v0.2",
    "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
}


def catalog_configs() -> dict[str, dict[str, Any]]:
    configs = {}
    for path in sorted((ROOT / "catalog" / "data" / "providers").glob("*.toml")):
        for m in tomllib.loads(path.read_text()).get("models", []):
            configs[m["hf_id"]] = m["config"]
    return configs


def wanted() -> dict[str, dict[str, Any]]:
    configs = catalog_configs()
    with (DATA / "published.csv").open(newline="") as f:
        ids = {row["model_hf_id"] for row in csv.DictReader(f)}
    out = {}
    for hf_id in sorted(ids):
        source = ALIASES.get(hf_id, hf_id)
        if source in configs:
            out[hf_id] = configs[source]
    return out


def write() -> None:
    (DATA / "models.json").write_text(json.dumps(wanted(), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    write()
    sys.stdout.write(f"{len(wanted())} model configs written to {DATA / 'models.json'}\n")
