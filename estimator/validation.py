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
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from estimator.config import Config, text_config
from estimator.devices import from_hardware
from estimator.gguf import tokenizer_bytes
from estimator.inventory import Inventory, tensor_inventory
from estimator.kv import KvCache, KvOptions, kv_cache
from estimator.memory import MemoryEstimate, MemoryOptions, estimate_memory
from estimator.quant import FILE_TYPES, Weights, quantize
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
# The calibration set's devices: name -> catalog slug (and GPU cores of a binned Apple chip).
DEVICES: dict[str, dict[str, Any]] = tomllib.loads(
    (HERE / "data" / "calibration_devices.toml").read_text()
)["devices"]
APPLE_BANDWIDTH = re.compile(r"memory bandwidth (\d+) GB/s")
# Published llama-bench / batched-bench / vLLM results, one CSV per gathering (schema in
# docs/estimator.md "Speed"), and the catalog facts they need (tests/estimator/speed_data.py).
PUBLISHED = HERE / "data" / "published"
SPEED = HERE / "data" / "speed"
BACKEND_NAMES = ("CUDA", "ROCm", "Vulkan", "Metal", "SYCL", "CPU")
# llama-bench's type labels -> llama-quantize file types.
LABELS = {
    "Q4_K - Medium": "Q4_K_M",
    "Q4_K - Small": "Q4_K_S",
    "Q5_K - Medium": "Q5_K_M",
    "Q5_K - Small": "Q5_K_S",
    "Q3_K - Medium": "Q3_K_M",
    "Q3_K - Small": "Q3_K_S",
    "Q3_K - Large": "Q3_K_L",
    "Q2_K - Medium": "Q2_K",
    "IQ4_XS - 4.25 bpw": "IQ4_XS",
    "MXFP4 MoE": "MXFP4_MOE",
    "MXFP4": "MXFP4_MOE",
}
POWER_CAPPED = re.compile(r"power limit (?!600W)\d+ ?W")
KIND = {"tg": "decode", "pp": "prefill", "bb_tg": "batched", "bb_pp": "prefill", "vllm": "serving"}
# vLLM serves checkpoints as released: their GGUF stand-in of the same bytes per weight.
VLLM_QUANTS = {"BF16": "BF16", "FP16": "F16", "FP8": "Q8_0", "MXFP4": "MXFP4_MOE"}
VLLM_BATCH = re.compile(r"measured avg batch ≈([\d.]+)")
VLLM_OUTPUT = re.compile(r"avg output ≈(\d+)")


@dataclass(frozen=True)
class Run:
    """One measured speed: llama-bench (decode / prefill at a depth) or llama-batched-bench
    (batched decode of `batch` sequences; prefill of their prompts)."""

    source: str  # "calibration" or the published file's name
    device_name: str
    slug: str
    device: Device
    backend: str
    model: str
    quant: str
    test: str  # tg, pp, bb_tg, bb_pp
    n_prompt: int
    n_gen: int
    depth: int
    batch: int
    flash_attn: str  # "1", "0" or "" (not stated)
    n_ubatch: int
    tps: float
    build: str

    @property
    def kind(self) -> str:
        return KIND[self.test]


@lru_cache(maxsize=1)
def _speed_facts() -> tuple[dict[str, Any], dict[str, Any]]:
    devices = json.loads((SPEED / "devices.json").read_text())
    models = json.loads((SPEED / "models.json").read_text())
    return devices, models


def device_from(slug: str, backend: str, cores: list[int] | None = None,
                 bandwidth: float | None = None) -> Device | None:  # fmt: skip
    """The catalog device's copy as the estimator sees it (devices.from_hardware), on
    `backend`; a binned Apple chip with `cores` = [its GPU cores, the catalog chip's], its
    bandwidth as the measurement's table gives it."""
    h = _speed_facts()[0].get(slug)
    if h is None:
        return None
    device = from_hardware(SimpleNamespace(**({"fp16_tflops": None, "tdp_watts": None} | h)))
    fp16 = device.fp16_tflops
    if cores and fp16:
        fp16 = fp16 * cores[0] / cores[1]
    return replace(device, bandwidth_gbps=bandwidth or device.bandwidth_gbps, fp16_tflops=fp16,
                   backend=backend)  # fmt: skip


def backend_of(label: str) -> str:
    """llama.cpp's backend in a benchmark's label ("llama.cpp CUDA", "ROCm,RPC", "HIP")."""
    low = label.lower()
    for name in BACKEND_NAMES:
        if name.lower() in low:
            return name
    return "ROCm" if "hip" in low else ""


@lru_cache(maxsize=1)
def speed_runs() -> tuple[Run, ...]:
    """Every single-device llama.cpp run we can model: the calibration set, then the
    published files."""
    out = []
    with DATA.open() as f:
        for r in csv.DictReader(f):
            entry = DEVICES.get(r["device"])
            if r["n_devices"] != "1" or r["model"] not in MODELS or entry is None:
                continue
            match = APPLE_BANDWIDTH.search(r["notes"])
            backend = backend_of(r["backend"])
            bw = float(match.group(1)) if match and backend == "Metal" else None
            device = device_from(entry["slug"], backend, entry.get("cores"), bw)
            if device is None:
                continue
            test = r["test"][:2]
            out.append(
                Run(
                    "calibration",
                    r["device"],
                    entry["slug"],
                    device,
                    backend,
                    r["model"],
                    r["quant"],
                    test,
                    int(r["n_prompt"] or 0),
                    int(r["n_gen"] or 0),
                    int(r["depth"] or 0),
                    1,
                    "0",
                    512,
                    float(r["tps"]),
                    r["build"],
                )
            )
    models = _speed_facts()[1]
    for path in sorted(PUBLISHED.glob("*.csv")):
        with path.open() as f:
            for r in csv.DictReader(f):
                run = _published(path.name, r, models)
                if run is not None:
                    out.append(run)
    # The same measurement gathered twice (a table transcribed in the calibration set and its
    # notebook in a repository) counts once.
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for run in out:
        key = (run.slug, run.backend, run.quant, run.test, run.n_prompt, run.n_gen, run.depth,
               run.batch, round(run.tps, 2))  # fmt: skip
        if key not in seen:
            seen.add(key)
            unique.append(run)
    return tuple(unique)


def _published(source: str, r: dict[str, str], models: dict[str, Any]) -> Run | None:
    test = r["test"]
    kind = (
        "pp"
        if test.startswith("pp") and "+" not in test
        else "tg"
        if test.startswith("tg")
        else test
    )
    backend = backend_of(r["backend"])
    quant = LABELS.get(r["quant"], r["quant"])
    if r["engine"] == "vllm":
        return _vllm_run(source, r, models)
    if kind not in KIND or kind == "vllm" or r["n_devices"] not in ("1", ""):
        return None
    if r["model_slug"] not in models or quant not in FILE_TYPES or not backend:
        return None
    if POWER_CAPPED.search(r["notes"]):  # a sweep of power limits: only the card's own limit
        return None
    device = device_from(r["hardware_slug"], backend)
    if device is None:
        return None
    try:
        return Run(source, r["device"], r["hardware_slug"], device, backend, r["model_slug"], quant,
                   kind, int(float(r["n_prompt"] or 0)), int(float(r["n_gen"] or 0)),
                   int(float(r["depth"] or 0)), int(float(r["batch"] or 1)), r["flash_attn"],
                   int(float(r["n_ubatch"] or 512)), float(r["tps"]), r["build"])  # fmt: skip
    except ValueError:
        return None


def _vllm_run(source: str, r: dict[str, str], models: dict[str, Any]) -> Run | None:
    """A vLLM serving run: output tokens/s of `batch` concurrent requests (the measured mean
    batch when the source gives it) on n_devices GPUs (tensor parallel), each request halfway
    through its prompt and output."""
    quant = VLLM_QUANTS.get(r["quant"])
    device = device_from(r["hardware_slug"], "CUDA")
    if quant is None or device is None or r["model_slug"] not in models or r["test"] != "serve_tg":
        return None
    try:
        batch = float(r["batch"])
        measured = VLLM_BATCH.search(r["notes"])
        if measured:
            batch = float(measured.group(1))
        n_prompt, n_gen = int(float(r["n_prompt"] or 0)), int(float(r["n_gen"] or 0))
        output = VLLM_OUTPUT.search(r["notes"])
        if not n_gen and output:
            n_gen = int(output.group(1))
        count = int(r["n_devices"] or 1)
        tps = float(r["tps"])
    except ValueError:
        return None
    if batch < 1 or not n_gen or tps <= 0:
        return None
    device = replace(device, count=count)
    return Run(source, r["device"], r["hardware_slug"], device, "vLLM", r["model_slug"], quant,
               "vllm", n_prompt, n_gen, 0, round(batch), "1", 512, tps, r["build"])  # fmt: skip


@lru_cache(maxsize=256)
def _config(model: str) -> dict[str, Any]:
    return MODELS[model] if model in MODELS else _speed_facts()[1][model]


@lru_cache(maxsize=256)
def _inv(model: str) -> Inventory:
    return tensor_inventory(_config(model))


@lru_cache(maxsize=512)
def _quantized(model: str, quant: str) -> Weights:
    return quantize(_inv(model), quant)


@lru_cache(maxsize=512)
def _kv(model: str, n_ctx: int) -> KvCache:
    return kv_cache(_inv(model), KvOptions(n_ctx=n_ctx))


def setting_tps(
    inv: Inventory,
    weights: Weights,
    kv: KvCache,
    device: Device,
    *,
    test: str,
    n_prompt: int,
    n_gen: int,
    depth: int,
    batch: int = 1,
    n_ubatch: int = 512,
    flash_attn: bool = True,
    runtime: str = "llama.cpp",
) -> float | None:
    """Our tokens/s for a measured setting (None: prefill on a device without a compute figure).
    `test`: "pp" or "bb_pp", a prompt of `n_prompt` after `depth`; "tg", llama-bench's N
    generated tokens after `depth`, averaged over them; "bb_tg" / "vllm", the aggregate of
    `batch` sequences generating after their own prompt (batched-bench's S_TG, a server's
    output rate)."""
    if test in ("pp", "bb_pp"):
        return prefill_tokens_per_s(inv, n_prompt, depth, device, weights, n_ubatch, flash_attn)
    start = generation_start(test, n_prompt, depth)
    return decode_tokens_per_s(inv, weights, kv, device, start + n_gen // 2, batch, runtime,
                               flash_attn=flash_attn)[0]  # fmt: skip


def generation_start(test: str, n_prompt: int, depth: int) -> int:
    """Tokens a sequence holds when it starts generating: batched-bench and servers generate
    after each sequence's own prompt; llama-bench's tg after `depth` alone."""
    return depth + (n_prompt if test in ("bb_tg", "vllm") else 0)


def predicted(run: Run) -> float | None:
    """Our tokens/s for a measured run, flash attention as the run states it (llama-bench's
    default was off before it became "auto"; the calibration set's builds ran without it)."""
    tokens = generation_start(run.test, run.n_prompt, run.depth) + run.n_gen
    return setting_tps(
        _inv(run.model), _quantized(run.model, run.quant), _kv(run.model, max(4096, tokens)),
        run.device, test=run.test, n_prompt=run.n_prompt, n_gen=run.n_gen, depth=run.depth,
        batch=run.batch, n_ubatch=run.n_ubatch, flash_attn=run.flash_attn != "0",
        runtime="vllm" if run.test == "vllm" else "llama.cpp",
    )  # fmt: skip


@lru_cache(maxsize=1)
def residuals() -> dict[tuple[str, str], list[float]]:
    """estimate / measured for every run, by (backend, kind)."""
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in speed_runs():
        guess = predicted(run)
        if guess is not None:
            out[(run.backend, run.kind)].append(guess / run.tps)
    return dict(out)


def speed_errors(test: str) -> dict[str, list[float]]:
    """|ours / measured - 1| per backend for "tg" (decode) or "pp" (prefill) runs."""
    kind = KIND[test]
    return {b: [abs(r - 1) for r in v] for (b, k), v in residuals().items() if k == kind}


@dataclass(frozen=True)
class SpeedSummary:
    backend: str
    kind: str  # decode | batched | prefill
    rows: int
    median_ratio: float  # median of estimate / measured
    median_error: float  # median |estimate / measured - 1|
    p80_error: float
    p90_error: float
    within_15: float  # share of rows within 15 %


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def speed_summary() -> list[SpeedSummary]:
    """The residual table per backend and kind (the methodology page; the bands)."""
    out = []
    for (backend, kind), ratios in sorted(residuals().items()):
        errs = [abs(r - 1) for r in ratios]
        out.append(
            SpeedSummary(
                backend,
                kind,
                len(ratios),
                statistics.median(ratios),
                statistics.median(errs),
                _quantile(errs, 0.8),
                _quantile(errs, 0.9),
                sum(e <= 0.15 for e in errs) / len(errs),
            )
        )
    return out


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
