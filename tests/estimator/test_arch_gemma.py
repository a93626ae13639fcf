"""Gemma 3n and Gemma 4 as llama.cpp reads them (estimator/arch_gemma.py), on the catalog's configs.

Sources of the expected numbers: the tensor counts and shapes of llama.cpp's converter output
(estimator/data/engine_cases/gemma.json records the reduced models), the 720 tensors of the released
gemma-4-E4B-it GGUF, Ollama's "4.46B" for gemma3n:e2b, ggml-org's published GGUF file sizes, and
llama.cpp's cache rules (SWA cells = pad256(window + n_ubatch); KV-shared layers have no cache).
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from estimator.inventory import Inventory, tensor_inventory
from estimator.kv import KvOptions, kv_cache
from estimator.memory import MemoryOptions, estimate_memory
from estimator.quant import quantize

GOOGLE = Path(__file__).resolve().parents[2] / "catalog" / "data" / "providers" / "google.toml"


@cache
def _configs() -> dict[str, dict[str, Any]]:
    with GOOGLE.open("rb") as f:
        return {m["hf_id"]: m["config"] for m in tomllib.load(f)["models"]}


def config(hf_id: str) -> dict[str, Any]:
    return _configs()[hf_id]


def inv(hf_id: str) -> Inventory:
    return tensor_inventory(config(hf_id))


def kinds(i: Inventory) -> dict[str, int]:
    counts: dict[str, int] = {}
    for layer in i.cache:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
    return counts


@pytest.mark.parametrize(
    ("hf_id", "params", "tensors"),
    [
        # HF text weights (the GGUF adds the converter's rope_freqs: 256 values, not weights);
        # E4B: 720 tensors as released
        ("google/gemma-4-E2B-it", 4_647_449_891, 601),
        ("google/gemma-4-E4B-it", 7_518_069_034, 720),
        ("google/gemma-4-26B-A4B-it", 25_233_141_790, 658),
        ("google/gemma-4-31B-it", 30_697_345_340, 833),
        # per-layer table padded to vocab_size (262,400) rows: Ollama lists gemma3n:e2b as 4.46B
        ("google/gemma-3n-E2B-it", 4_458_122_848, 727),
        ("google/gemma-3n-E4B-it", 6_868_990_448, 847),
    ],
)
def test_language_model_parameters_are_what_the_gguf_holds(
    hf_id: str, params: int, tensors: int
) -> None:
    i = inv(hf_id)
    assert i.exact
    assert i.params_total == params
    assert len(i.tensors) == tensors


def test_gemma_4_26b_a4b_uses_3_8b_parameters_per_token() -> None:
    i = inv("google/gemma-4-26B-A4B-it")
    assert (i.n_experts, i.n_experts_used) == (128, 8)
    assert i.params_active == 3_822_530_590


def test_kv_shared_layers_have_no_cache_of_their_own() -> None:
    assert kinds(inv("google/gemma-4-E2B-it")) == {"swa": 12, "full": 3, "none": 20}
    assert kinds(inv("google/gemma-4-E4B-it")) == {"swa": 20, "full": 4, "none": 18}
    # llama.cpp's gemma3n.cpp: the first 20 layers keep a cache (n_layer_kv_from_start = 20)
    assert kinds(inv("google/gemma-3n-E2B-it")) == {"swa": 16, "full": 4, "none": 10}
    assert kinds(inv("google/gemma-3n-E4B-it")) == {"swa": 16, "full": 4, "none": 15}


def test_shared_layers_still_store_their_k_and_v_projections() -> None:
    names = {t.name for t in inv("google/gemma-4-E4B-it").tensors}
    assert {"blk.41.attn_k.weight", "blk.41.attn_v.weight", "blk.41.attn_k_norm.weight"} <= names


def test_full_layers_of_k_eq_v_models_have_no_v_projection_but_cache_v() -> None:
    i = inv("google/gemma-4-31B-it")
    names = {t.name for t in i.tensors}
    assert "blk.5.attn_v.weight" not in names
    assert "blk.4.attn_v.weight" in names
    # sliding: 16 KV heads x 256; full: 4 global KV heads x 512, K and V both cached
    assert (i.cache[4].k_width, i.cache[5].k_width, i.cache[5].v_width) == (4096, 2048, 2048)


def test_gemma_4_e2b_kv_cache_at_32k_tokens() -> None:
    # 3 full layers x 32768 x (512 + 512) x 2 B + 12 SWA layers x 1024 cells x (256 + 256) x 2 B
    kv = kv_cache(inv("google/gemma-4-E2B-it"), KvOptions(n_ctx=32768))
    assert kv.cells_swa == 1024
    assert kv.full_bytes == 201_326_592
    assert kv.swa_bytes == 12_582_912


def test_gemma_4_31b_kv_cache_at_the_full_256k_context() -> None:
    # 10 full layers x 262144 cells x (2048 + 2048) x 2 B
    # + 50 SWA layers x 1536 cells x (4096 + 4096) x 2 B
    kv = kv_cache(inv("google/gemma-4-31B-it"), KvOptions(n_ctx=262144))
    assert kv.cells_swa == 1536
    assert kv.bytes == 10 * 262144 * 8192 + 50 * 1536 * 16384 == 22_733_127_680


def test_double_wide_mlp_doubles_the_ffn_of_kv_shared_layers_only() -> None:
    shapes = {t.name: t.shape for t in inv("google/gemma-4-E2B-it").tensors}
    assert shapes["blk.14.ffn_up.weight"] == (1536, 6144)
    assert shapes["blk.15.ffn_up.weight"] == (1536, 12288)


def test_per_layer_table_is_quantized_like_the_tied_embedding() -> None:
    w = quantize(inv("google/gemma-3n-E4B-it"), "Q4_K_M")
    assert w.type_of("per_layer_token_embd.weight") == "Q6_K"
    assert w.type_of("token_embd.weight") == "Q6_K"
    assert w.type_of("per_layer_model_proj.weight") == "F16"
    assert w.type_of("altup_proj.weight") == "F16"
    assert w.type_of("blk.0.laurel_l.weight") == "F16"
    assert w.type_of("blk.0.altup_predict_coef.weight") == "F32"


@pytest.mark.parametrize(
    ("hf_id", "file_type", "published"),
    [
        ("google/gemma-4-E4B-it", "Q4_K_M", 5_335_289_824),  # ggml-org/gemma-4-E4B-it-GGUF
        ("google/gemma-4-E2B-it", "Q8_0", 4_967_494_592),  # ggml-org/gemma-4-E2B-it-GGUF
        ("google/gemma-4-E4B", "Q8_0", 8_031_223_872),  # ggml-org/gemma-4-E4B-GGUF
    ],
)
def test_published_gguf_files_are_within_a_quarter_percent(
    hf_id: str, file_type: str, published: int
) -> None:
    est = estimate_memory(config(hf_id), MemoryOptions(file_type=file_type))
    assert est.file_bytes == pytest.approx(published, rel=0.0025)
