"""The estimator against the real thing: the data its tests assert on, for the tests and for
the methodology page alike (thin layer: it reads the data files in estimator/data/, and no
catalog file).

- Memory: llama.cpp runs recorded by tests/engine/generate.py (`llama_cpp_cases.json`): GGUFs
  in real models' shapes, quantized by llama.cpp's own quantizer and loaded on its CPU backend,
  with the file size, tensor types and buffer sizes llama.cpp reported.
- Speed: measured llama.cpp tokens/s on many GPUs and Apple chips
  (`llama_cpp_tps_calibration.csv`, each row with its source), joined to models and devices.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from estimator.config import Config, text_config
from estimator.gguf import tokenizer_bytes
from estimator.inventory import tensor_inventory
from estimator.kv import KvOptions, kv_cache
from estimator.memory import MemoryEstimate, MemoryOptions, estimate_memory
from estimator.quant import quantize
from estimator.throughput import Device, decode_tokens_per_s, prefill_tokens_per_s

HERE = Path(__file__).parent
DATA = HERE / "data" / "llama_cpp_tps_calibration.csv"
ENGINE_CASES = HERE / "data" / "llama_cpp_cases.json"
# More recorded cases, one file per group of architectures, made through llama.cpp's own
# converter (see docs/estimator.md, "Engine cases"); same schema as ENGINE_CASES.
ENGINE_CASE_DIR = HERE / "data" / "engine_cases"

_LLAMA = {"model_type": "llama", "vocab_size": 32000, "tie_word_embeddings": False}
MODELS = {
    "LLaMA-1-7B": dict(
        _LLAMA,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
    ),
    "LLaMA-1-13B": dict(
        _LLAMA,
        hidden_size=5120,
        intermediate_size=13824,
        num_hidden_layers=40,
        num_attention_heads=40,
    ),
    "LLaMA-1-30B": dict(
        _LLAMA,
        hidden_size=6656,
        intermediate_size=17920,
        num_hidden_layers=60,
        num_attention_heads=52,
    ),
    "LLaMA-1-65B": dict(
        _LLAMA,
        hidden_size=8192,
        intermediate_size=22016,
        num_hidden_layers=80,
        num_attention_heads=64,
    ),
    "Llama-2-7B": dict(
        _LLAMA,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
    ),
    "Llama-2-13B": dict(
        _LLAMA,
        hidden_size=5120,
        intermediate_size=13824,
        num_hidden_layers=40,
        num_attention_heads=40,
    ),
    "Llama-2-70B": dict(
        _LLAMA,
        hidden_size=8192,
        intermediate_size=28672,
        num_hidden_layers=80,
        num_attention_heads=64,
        num_key_value_heads=8,
    ),
    "Llama-3-8B": dict(
        _LLAMA,
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
    ),
    "Llama-3-70B": dict(
        _LLAMA,
        vocab_size=128256,
        hidden_size=8192,
        intermediate_size=28672,
        num_hidden_layers=80,
        num_attention_heads=64,
        num_key_value_heads=8,
    ),
}
# The calibration set's GPUs: name -> slug and figures (copied from the catalog, with sources).
DEVICES: dict[str, dict[str, Any]] = tomllib.loads(
    (HERE / "data" / "calibration_devices.toml").read_text()
)["devices"]
APPLE_BANDWIDTH = re.compile(r"memory bandwidth (\d+) GB/s")


@dataclass(frozen=True)
class Row:
    device_name: str
    device: Device
    model: str
    quant: str
    test: str  # "pp" or "tg"
    n_tokens: int
    depth: int
    tps: float


@lru_cache(maxsize=1)
def rows() -> list[Row]:
    """Single-device rows whose device and model we can resolve."""
    out = []
    with DATA.open() as f:
        for r in csv.DictReader(f):
            if r["n_devices"] != "1" or r["model"] not in MODELS:
                continue
            device = _device(r["device"], r["notes"], r["backend"])
            if device is None:
                continue
            test = r["test"][:2]
            n = int(r["n_prompt"] or 0) if test == "pp" else int(r["n_gen"] or 0)
            out.append(
                Row(
                    r["device"],
                    device,
                    r["model"],
                    r["quant"],
                    test,
                    n,
                    int(r["depth"] or 0),
                    float(r["tps"]),
                )
            )
    return out


def _device(name: str, notes: str, backend: str) -> Device | None:
    if name in DEVICES:
        h = DEVICES[name]
        return Device(
            h["memory_bytes"], h["bandwidth_gbps"], h.get("fp16_tflops"), "nvidia", h["segment"]
        )
    match = APPLE_BANDWIDTH.search(notes)
    if "Metal" in backend and match:
        return Device(0, float(match.group(1)), None, "apple", "apple")
    return None


def predicted(row: Row) -> float | None:
    """Our tokens/s for a calibration row (None: prefill on a device without an FP16 figure)."""
    inv = tensor_inventory(MODELS[row.model])
    if row.test == "pp":
        return prefill_tokens_per_s(inv, row.n_tokens, row.depth, row.device)
    kv = kv_cache(inv, KvOptions(n_ctx=max(4096, row.depth + row.n_tokens)))
    depth = row.depth + row.n_tokens // 2  # tg-N averages over N generated tokens
    return decode_tokens_per_s(inv, quantize(inv, row.quant), kv, row.device, depth)[0]


@lru_cache(maxsize=2)
def speed_errors(test: str) -> dict[str, list[float]]:
    """|ours / measured - 1| per device class, for "tg" (decode) or "pp" (prefill) rows."""
    by_class: dict[str, list[float]] = defaultdict(list)
    for row in rows():
        if row.test != test:
            continue
        guess = predicted(row)
        if guess is not None:
            by_class[row.device.device_class].append(abs(guess / row.tps - 1))
    return dict(by_class)


@dataclass(frozen=True)
class SpeedSummary:
    test: str  # "tg" or "pp"
    device_class: str
    rows: int
    median_error: float
    within_15: float  # share of rows within 15 %


def speed_summary() -> list[SpeedSummary]:
    """Median error and share within 15 % per test and device class."""
    out = []
    for test in ("tg", "pp"):
        for cls, errs in sorted(speed_errors(test).items()):
            within = sum(e <= 0.15 for e in errs) / len(errs)
            out.append(SpeedSummary(test, cls, len(errs), statistics.median(errs), within))
    return out


@lru_cache(maxsize=1)
@lru_cache(maxsize=1)
def engine_data() -> dict[str, Any]:
    """Every recorded llama.cpp case: the original file's, then each file in ENGINE_CASE_DIR."""
    data: dict[str, Any] = json.loads(ENGINE_CASES.read_text())
    for path in sorted(ENGINE_CASE_DIR.glob("*.json")):
        data["cases"] = data["cases"] + json.loads(path.read_text())["cases"]
    return data


def estimate_file(case: dict[str, Any]) -> int:
    """Our GGUF file size for a recorded case. Cases made through the converter carry a
    synthetic vocabulary: their measured tokenizer metadata replaces our estimate of a real one."""
    est = estimate_memory(case["config"], MemoryOptions(file_type=case["file_type"]))
    if "tokenizer_bytes" not in case:
        return est.file_bytes
    inv = tensor_inventory(case["config"])
    vocab = Config(text_config(case["config"])).get_int("vocab_size")
    return est.file_bytes - tokenizer_bytes(inv.model_type, vocab) + int(case["tokenizer_bytes"])


def engine_runs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(case, run) for every recorded llama.cpp load."""
    return [(case, run) for case in engine_data()["cases"] for run in case["runs"]]


def estimate_run(case: dict[str, Any], run: dict[str, Any]) -> MemoryEstimate:
    """Our estimate for a recorded run's model, file type, context, KV type and attention."""
    opts = MemoryOptions(
        file_type=case["file_type"],
        n_ctx=run["n_ctx"],
        type_k=run["kv"],
        type_v=run["kv"],
        flash_attn=run["flash_attn"],
        n_seq=run.get("n_seq", 1),
    )
    return estimate_memory(case["config"], opts)
