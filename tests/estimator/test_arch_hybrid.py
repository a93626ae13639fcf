"""Nemotron-H / Nemotron 3, Granite 4.0 and LFM2 as llama.cpp reads them (estimator/arch_hybrid.py).

Configs: the architecture fields of the released config.json files as copied into
catalog/data/providers/{nvidia,ibm,liquidai}.toml (each with its provenance there). Official totals:
the Hub's safetensors totals (Granite 4.0 H-Small and Micro, Nemotron Nano 9B v2) and the LFM2
cards' "Parameters" rows; llama.cpp's own parameter count of the published Nemotron 3 GGUFs
(llama-bench model_n_params: 31,577,940,288 for Nano, 120,668,707,840 for Super).
Recurrent state: llama_hparams::n_embd_r / n_embd_s (src/llama-hparams.cpp), F32, one row per
sequence (src/llama-memory-recurrent.cpp); engine runs in estimator/data/engine_cases/hybrid.json.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from estimator.inventory import CacheLayer, tensor_inventory
from estimator.kv import KvOptions, kv_cache
from estimator.quant import quantize

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20


@cache
def _catalog(provider: str) -> dict[str, dict[str, Any]]:
    data = tomllib.loads((ROOT / "catalog/data/providers" / f"{provider}.toml").read_text())
    return {m["hf_id"]: m["config"] for m in data["models"]}


def config(provider: str, hf_id: str) -> dict[str, Any]:
    return _catalog(provider)[hf_id]


NANO3 = ("nvidia", "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
SUPER = ("nvidia", "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16")
NANO2_9B = ("nvidia", "nvidia/NVIDIA-Nemotron-Nano-9B-v2")
H_SMALL = ("ibm", "ibm-granite/granite-4.0-h-small")
MICRO = ("ibm", "ibm-granite/granite-4.0-micro")
LFM2_1B = ("liquidai", "LiquidAI/LFM2-1.2B")
LFM2_8B = ("liquidai", "LiquidAI/LFM2-8B-A1B")


@pytest.mark.parametrize(
    ("model", "total"),
    [
        (H_SMALL, 32_207_337_984),
        (MICRO, 3_402_836_480),
        (NANO2_9B, 8_888_227_328),
        (NANO3, 31_577_940_288),
        (LFM2_1B, 1_170_340_608),
        (("liquidai", "LiquidAI/LFM2-350M"), 354_483_968),
        (("liquidai", "LiquidAI/LFM2-2.6B"), 2_569_272_320),
    ],
    ids=lambda m: m[1] if isinstance(m, tuple) else str(m),
)
def test_parameter_totals_equal_the_published_ones(model: tuple[str, str], total: int) -> None:
    assert tensor_inventory(config(*model)).params_total == total


def test_nemotron_3_super_main_layers_are_llama_cpps_count_and_its_mtp_block_is_stored_after() -> (
    None
):
    inv = tensor_inventory(config(*SUPER))
    main = sum(t.n_elements for t in inv.tensors if not t.name.startswith("blk.88."))
    assert main == 120_668_707_840
    assert (inv.n_layers, inv.blocks) == (88, 89)
    names = {t.name for t in inv.tensors}
    assert {"blk.88.nextn.eh_proj.weight", "blk.1.ffn_latent_down.weight"} <= names


def test_nemotron_3_nano_lays_out_23_mamba_6_attention_and_23_moe_layers() -> None:
    inv = tensor_inventory(config(*NANO3))
    kinds = {layer.kind: count for layer, count in inv.cache_groups}
    assert kinds == {"recurrent": 23, "full": 6, "none": 23}
    assert len(inv.tensors) == 401
    # Layer 0 is a Mamba layer: llama.cpp's n_gqa() of it is 0.
    assert inv.n_kv_heads == 0
    assert (inv.n_experts, inv.n_experts_used) == (128, 6)
    names = {t.name for t in inv.tensors}
    assert "blk.1.ffn_gate_exps.weight" not in names  # squared-ReLU experts: up and down only
    assert "blk.1.exp_probs_b.bias" in names


def test_nemotron_3_nano_keeps_49930240_bytes_of_state_per_sequence() -> None:
    """23 Mamba-2 layers x ((4 - 1) x (4096 + 2 x 8 x 128) + 128 x 4096) F32 elements."""
    inv = tensor_inventory(config(*NANO3))
    one = kv_cache(inv, KvOptions(n_ctx=4096))
    assert one.recurrent_bytes == 23 * (3 * 6144 + 128 * 4096) * 4 == 49_930_240
    assert kv_cache(inv, KvOptions(n_ctx=4096, n_seq=4)).recurrent_bytes == 4 * 49_930_240
    # Only the 6 attention layers cache K and V: 2 heads x 128 wide, f16.
    assert one.full_bytes == 6 * 4096 * 2 * 256 * 2 == 25_165_824


def test_nemotron_nano_9b_v2_mlp_layers_have_no_cache_and_no_gate() -> None:
    inv = tensor_inventory(config(*NANO2_9B))
    kinds = {layer.kind: count for layer, count in inv.cache_groups}
    assert kinds == {"recurrent": 27, "none": 25, "full": 4}
    names = {t.name for t in inv.tensors}
    assert {"blk.1.ffn_up.weight", "blk.1.ffn_down.weight"} <= names
    assert "blk.1.ffn_gate.weight" not in names
    shapes = {t.name: t.shape for t in inv.tensors}
    assert shapes["blk.0.ssm_in.weight"] == (4480, 2 * 10240 + 2 * 8 * 128 + 128)
    assert shapes["blk.0.ssm_conv1d.weight"] == (4, 10240 + 2 * 8 * 128)
    assert shapes["blk.0.ssm_a"] == (1, 128)
    assert shapes["blk.0.ssm_norm.weight"] == (1280, 8)


def test_granite_4_h_small_state_and_cache() -> None:
    inv = tensor_inventory(config(*H_SMALL))
    kv = kv_cache(inv, KvOptions(n_ctx=8192))
    assert kv.recurrent_bytes == 36 * (3 * (8192 + 256) + 128 * 8192) * 4 == 154_644_480
    assert kv.full_bytes == 4 * 8192 * 2 * 8 * 128 * 2 == 134_217_728


def test_granite_4_without_mamba_layers_is_a_plain_granite_decoder() -> None:
    inv = tensor_inventory(config(*MICRO))
    assert {layer.kind for layer in inv.cache} == {"full"}
    names = {t.name for t in inv.tensors}
    assert {"blk.0.ffn_gate.weight", "blk.0.attn_q.weight"} <= names
    assert not any("ssm" in n for n in names)


def test_lfm2_conv_layers_keep_two_columns_per_channel() -> None:
    inv = tensor_inventory(config(*LFM2_1B))
    assert CacheLayer("recurrent", r_size=2048 * 2) in inv.cache
    kv = kv_cache(inv, KvOptions(n_ctx=4096, n_seq=2))
    assert kv.recurrent_bytes == 2 * 10 * 2048 * 2 * 4 == 327_680
    shapes = {t.name: t.shape for t in inv.tensors}
    assert shapes["blk.0.ffn_up.weight"] == (2048, 8192)  # 2/3 of 12288, rounded to 256
    assert shapes["blk.0.shortconv.conv.weight"] == (3, 2048)
    assert "token_embd_norm.weight" in shapes and "output.weight" not in shapes


def test_lfm2_moe_first_two_layers_are_dense_then_32_sigmoid_routed_experts() -> None:
    inv = tensor_inventory(config(*LFM2_8B))
    names = {t.name for t in inv.tensors}
    assert "blk.1.ffn_gate.weight" in names and "blk.1.ffn_gate_exps.weight" not in names
    assert {"blk.2.ffn_gate_exps.weight", "blk.2.exp_probs_b.bias"} <= names
    assert (inv.params_total, inv.params_active) == (8_339_930_560, 1_557_740_992)


ENGINE = json.loads((ROOT / "estimator/data/engine_cases/hybrid.json").read_text())["cases"]


def test_the_engine_cases_cover_every_hybrid_architecture() -> None:
    kinds = {tensor_inventory(case["config"]).model_type for case in ENGINE}
    assert kinds >= {"nemotron_h", "granitemoehybrid", "lfm2", "lfm2_moe"}


def test_nemotron_nano_9b_v2_rows_of_4480_fall_back_from_q4_k_to_q5_0() -> None:
    """4480 is not a multiple of Q4_K's 256-wide block: llama-quantize's tensor_type_fallback
    stores those rows as Q5_0 (and Q6_K ones as Q8_0), as the engine case's file shows."""
    weights = quantize(tensor_inventory(config(*NANO2_9B)), "Q4_K_M")
    assert weights.type_of("blk.0.ssm_in.weight") == "Q5_0"
    assert weights.type_of("blk.0.ssm_out.weight") == "Q4_K"  # rows of d_inner = 10240
    assert weights.type_of("output.weight") == "Q8_0"
