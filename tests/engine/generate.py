"""Record what real llama.cpp allocates, for tests/estimator/test_engine_cases.py.

For each case: write a GGUF with zeroed weights in a real model's shapes (the tensor inventory
from estimator/inventory.py, so names and shapes are checked too), quantize it with llama.cpp's
own quantizer, load it with a context and KV type, and record the file size, the per-tensor
types, and the buffer sizes llama.cpp logs. Output: estimator/data/llama_cpp_cases.json.

Not part of `make test` (it builds files of up to a few GB). Run it in its own venv:

    python3.13 -m venv /tmp/engine && /tmp/engine/bin/pip install llama-cpp-python gguf numpy
    /tmp/engine/bin/python tests/engine/generate.py --vocab-dir <llama.cpp>/models

`--vocab-dir` is llama.cpp's models/ folder (in the llama-cpp-python sdist under
vendor/llama.cpp/models) with its ggml-vocab-*.gguf tokenizers.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from estimator.inventory import tensor_inventory  # noqa: E402

FTYPES = {  # llama.h LLAMA_FTYPE_*
    "F16": 1,
    "Q4_0": 2,
    "Q4_1": 3,
    "Q8_0": 7,
    "Q5_0": 8,
    "Q5_1": 9,
    "Q2_K": 10,
    "Q3_K_S": 11,
    "Q3_K_M": 12,
    "Q3_K_L": 13,
    "Q4_K_S": 14,
    "Q4_K_M": 15,
    "Q5_K_S": 16,
    "Q5_K_M": 17,
    "Q6_K": 18,
    "IQ4_NL": 25,
    "IQ4_XS": 30,
    "BF16": 32,
    "MXFP4_MOE": 38,
}
GGML_TYPES = {"f16": 1, "q4_0": 2, "q8_0": 8}
ARCH = {
    "llama": "llama",
    "mistral": "llama",
    "mixtral": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen3_moe": "qwen3moe",
    "gemma2": "gemma2",
    "gemma3_text": "gemma3",
    "phi3": "phi3",
    "deepseek_v2": "deepseek2",
    "cohere": "command-r",
    "falcon": "falcon",
    "gpt_oss": "gpt-oss",
    "olmo2": "olmo2",
    "starcoder2": "starcoder2",
    "gemma": "gemma",
}

LLAMA_8B = dict(
    model_type="llama",
    hidden_size=4096,
    intermediate_size=14336,
    num_attention_heads=32,
    num_key_value_heads=8,
    vocab_size=128256,
    tie_word_embeddings=False,
    max_position_embeddings=131072,
)
CASES: list[dict[str, Any]] = [
    {
        "name": "llama-3.2-1b",
        "vocab": "llama-bpe",
        "config": dict(
            model_type="llama",
            hidden_size=2048,
            intermediate_size=8192,
            num_hidden_layers=16,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=128256,
            tie_word_embeddings=True,
            head_dim=64,
            max_position_embeddings=131072,
        ),
    },
    {
        "name": "llama-3.1-8b-8-layers",
        "vocab": "llama-bpe",
        "config": dict(LLAMA_8B, num_hidden_layers=8),
    },
    {
        "name": "qwen2.5-0.5b",
        "vocab": "qwen2",
        "config": dict(
            model_type="qwen2",
            hidden_size=896,
            intermediate_size=4864,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
            vocab_size=151936,
            tie_word_embeddings=True,
            max_position_embeddings=32768,
        ),
    },
    {
        "name": "phi-3-mini-6-layers",
        "vocab": "phi-3",
        "config": dict(
            model_type="phi3",
            hidden_size=3072,
            intermediate_size=8192,
            num_hidden_layers=6,
            num_attention_heads=32,
            num_key_value_heads=32,
            vocab_size=32064,
            tie_word_embeddings=False,
            max_position_embeddings=4096,
        ),
    },
    {
        "name": "gemma-2-2b-8-layers",
        "vocab": "llama-spm",
        "config": dict(
            model_type="gemma2",
            hidden_size=2304,
            intermediate_size=9216,
            num_hidden_layers=8,
            num_attention_heads=8,
            num_key_value_heads=4,
            head_dim=256,
            vocab_size=32000,
            sliding_window=4096,
            max_position_embeddings=8192,
        ),
    },
    {
        "name": "gemma-3-1b-12-layers",
        "vocab": "llama-spm",
        "config": dict(
            model_type="gemma3_text",
            hidden_size=1152,
            intermediate_size=6912,
            num_hidden_layers=12,
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=256,
            vocab_size=32000,
            sliding_window=512,
            max_position_embeddings=32768,
        ),
    },
    {
        "name": "qwen3-30b-a3b-4-layers",
        "vocab": "qwen2",
        "config": dict(
            model_type="qwen3_moe",
            hidden_size=2048,
            intermediate_size=6144,
            moe_intermediate_size=768,
            num_hidden_layers=4,
            num_attention_heads=32,
            num_key_value_heads=4,
            head_dim=128,
            num_experts=128,
            num_experts_per_tok=8,
            vocab_size=151936,
            tie_word_embeddings=False,
            max_position_embeddings=40960,
        ),
    },
    {
        "name": "mixtral-8x7b-2-layers",
        "vocab": "llama-spm",
        "config": dict(
            model_type="mixtral",
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=2,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=32000,
            num_local_experts=8,
            num_experts_per_tok=2,
            max_position_embeddings=32768,
        ),
    },
    # llama.cpp reads a 26/27-layer deepseek2 as "Lite" (no q_lora_rank); 3 layers need one.
    {
        "name": "deepseek-v2-lite-q-lora-3-layers",
        "vocab": "deepseek-llm",
        "config": dict(
            model_type="deepseek_v2",
            hidden_size=2048,
            intermediate_size=10944,
            moe_intermediate_size=1408,
            num_hidden_layers=3,
            num_attention_heads=16,
            num_key_value_heads=16,
            n_routed_experts=64,
            n_shared_experts=2,
            num_experts_per_tok=6,
            first_k_dense_replace=1,
            kv_lora_rank=512,
            q_lora_rank=1536,
            qk_rope_head_dim=64,
            qk_nope_head_dim=128,
            v_head_dim=128,
            vocab_size=102400,
            topk_method="greedy",
            routed_scaling_factor=1.0,
            max_position_embeddings=163840,
        ),
    },
]
RUNS = [  # (file type, n_ctx, kv type, flash attention)
    ("Q4_K_M", 4096, "f16", True),
    ("Q4_K_M", 4096, "f16", False),
    ("Q4_K_M", 16384, "q8_0", True),
    ("Q8_0", 8192, "q8_0", True),
    ("Q8_0", 8192, "f16", True),
]


def write_source(case: dict[str, Any], path: Path, vocab_dir: Path) -> None:
    """A GGUF of the case's shapes with zeroed F16 weights and F32 norms/biases/routers."""
    cfg = case["config"]
    inv = tensor_inventory(cfg)
    arch = ARCH[cfg["model_type"]]
    w = gguf.GGUFWriter(str(path), arch)
    n_head, n_kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads")
    head_dim = cfg.get("head_dim", cfg["hidden_size"] // n_head)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(1 if arch == "deepseek2" else n_kv)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(1)
    if arch == "deepseek2":
        rope, kv_lora = cfg["qk_rope_head_dim"], cfg["kv_lora_rank"]
        w.add_rope_dimension_count(rope)
        w.add_kv_lora_rank(kv_lora)
        if cfg.get("q_lora_rank"):
            w.add_q_lora_rank(cfg["q_lora_rank"])
        w.add_key_length(kv_lora + rope)
        w.add_value_length(kv_lora)
        w.add_key_length_mla(cfg["qk_nope_head_dim"] + rope)
        w.add_value_length_mla(cfg["v_head_dim"])
        w.add_leading_dense_block_count(cfg["first_k_dense_replace"])
        w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
        w.add_expert_count(cfg["n_routed_experts"])
        w.add_expert_shared_count(cfg["n_shared_experts"])
        w.add_expert_used_count(cfg["num_experts_per_tok"])
        w.add_expert_weights_scale(1.0)
        w.add_expert_gating_func(gguf.ExpertGatingFuncType.SOFTMAX)
    else:
        w.add_rope_dimension_count(head_dim)
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if cfg.get("num_local_experts") or cfg.get("num_experts"):
        w.add_expert_count(cfg.get("num_local_experts") or cfg["num_experts"])
        w.add_expert_used_count(cfg["num_experts_per_tok"])
    if cfg.get("moe_intermediate_size") and arch != "deepseek2":
        w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    if cfg.get("sliding_window") and arch in ("gemma2", "gemma3"):
        w.add_sliding_window(cfg["sliding_window"])
    reader = gguf.GGUFReader(str(vocab_dir / f"ggml-vocab-{case['vocab']}.gguf"))
    for field in reader.fields.values():
        if field.name.startswith("tokenizer."):
            value = field.contents()
            sub = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
            w.add_key_value(field.name, value, field.types[0], sub_type=sub)
    for t in inv.tensors:
        f32 = (
            len(t.shape) < 2
            or t.name.endswith("_norm.weight")
            or not t.name.endswith(".weight")
            or "ffn_gate_inp" in t.name
        )
        w.add_tensor(t.name, np.zeros(t.shape[::-1], dtype=np.float32 if f32 else np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


LOG: list[str] = []


@llama_cpp.llama_log_callback
def _log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    LOG.append(text.decode(errors="replace"))


def quantize(src: Path, dst: Path, ftype: str) -> None:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[ftype]
    params.nthread = os.cpu_count() or 2
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)):
        raise RuntimeError(f"quantize {ftype} failed:\n{''.join(LOG[-20:])}")


def tensor_types(path: Path) -> dict[str, str]:
    reader = gguf.GGUFReader(str(path))
    return {t.name: t.tensor_type.name for t in reader.tensors}


def load(
    path: Path,
    n_ctx: int,
    kv: str,
    fa: bool,
    n_seq: int = 1,
    n_ubatch: int = 512,
    use_mmap: bool = True,
) -> dict[str, float]:
    """Load the model and create a context; return the buffer sizes llama.cpp logs, in MiB.

    With mmap the CPU model buffer is the file's span from the first to the last tensor loaded,
    so tensors the loader skips (MTP layers) count when a loaded one lies after them; without
    mmap it is the loaded tensors only, as on a GPU."""
    LOG.clear()
    mparams = llama_cpp.llama_model_default_params()
    mparams.n_gpu_layers = 0
    mode = llama_cpp.LLAMA_LOAD_MODE_MMAP if use_mmap else llama_cpp.LLAMA_LOAD_MODE_NONE
    mparams.load_mode = mode  # llama.cpp's load_mode replaced use_mmap
    # No CPU weight repacking: GPU backends never repack, and a repacked tensor is counted twice.
    mparams.use_extra_bufts = False
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), mparams)
    if not model:
        raise RuntimeError("load failed:\n" + "".join(LOG[-30:]))
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx = n_ctx
    cparams.n_batch = 2048
    cparams.n_ubatch = n_ubatch
    cparams.n_seq_max = n_seq
    cparams.type_k = GGML_TYPES[kv]
    cparams.type_v = GGML_TYPES[kv]
    cparams.flash_attn_type = 1 if fa else 0
    cparams.swa_full = False  # the C API defaults to true; llama-server and llama-cli to false
    cparams.n_threads = cparams.n_threads_batch = os.cpu_count() or 2
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    if not ctx:
        llama_cpp.llama_model_free(model)
        raise RuntimeError("context failed:\n" + "".join(LOG[-30:]))
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
    text = "".join(LOG)
    sizes: dict[str, float] = {}
    for line in text.splitlines():
        m = re.search(r"(\w+) model buffer size =\s+([\d.]+) MiB", line)
        if m:
            sizes["model_mib"] = sizes.get("model_mib", 0.0) + float(m.group(2))
        m = re.search(r"CPU (?:KV|RS) buffer size =\s+([\d.]+) MiB", line)
        if m:
            sizes["kv_mib"] = sizes.get("kv_mib", 0.0) + float(m.group(1))
        m = re.search(r"CPU compute buffer size =\s+([\d.]+) MiB", line)
        if m:
            sizes["compute_mib"] = float(m.group(1))
        m = re.search(r"CPU\s+output buffer size =\s+([\d.]+) MiB", line)
        if m:
            sizes["output_mib"] = float(m.group(1))
    for key in ("model_mib", "kv_mib", "compute_mib"):
        if key not in sizes:
            raise RuntimeError(f"no {key} in the log:\n{text[-3000:]}")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab-dir", type=Path, required=True, help="llama.cpp models/ folder")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "estimator" / "data" / "llama_cpp_cases.json"
    )
    parser.add_argument("--only", help="run only cases whose name contains this")
    args = parser.parse_args()
    llama_cpp.llama_log_set(_log, ctypes.c_void_p())
    llama_cpp.llama_backend_init()
    # Results are merged into the output file case by case, so a crash loses one case only.
    previous = json.loads(args.out.read_text())["cases"] if args.out.exists() else []
    results = {(c["name"], c["file_type"]): c for c in previous}
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        for case in CASES:
            if args.only and args.only not in case["name"]:
                continue
            src = Path(tmp) / f"{case['name']}-F16.gguf"
            start = time.time()
            write_source(case, src, args.vocab_dir)
            for ftype in sorted({r[0] for r in RUNS}):
                dst = Path(tmp) / f"{case['name']}-{ftype}.gguf"
                quantize(src, dst, ftype)
                runs = []
                for r_ftype, n_ctx, kv, fa in RUNS:
                    if r_ftype != ftype:
                        continue
                    sizes = load(dst, n_ctx, kv, fa)
                    runs.append({"n_ctx": n_ctx, "kv": kv, "flash_attn": fa, **sizes})
                results[(case["name"], ftype)] = {
                    "name": case["name"],
                    "config": case["config"],
                    "vocab": case["vocab"],
                    "file_type": ftype,
                    "file_bytes": dst.stat().st_size,
                    "tensor_types": tensor_types(dst),
                    "runs": runs,
                }
                dst.unlink()
                print(f"{case['name']} {ftype}: {runs}", flush=True)
                payload = {
                    "llama_cpp_python": llama_cpp.__version__,
                    "backend": "CPU (no weight repacking), swa_full off, n_ubatch 512",
                    "note": "buffer sizes in MiB as llama.cpp logs them; file_bytes exact",
                    "cases": sorted(results.values(), key=lambda c: (c["name"], c["file_type"])),
                }
                args.out.write_text(json.dumps(payload, indent=1) + "\n")
            src.unlink()
            print(f"  ({time.time() - start:.0f} s)", flush=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
