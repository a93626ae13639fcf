"""Llama 4, Ministral 3 and Devstral 2 as llama.cpp reads them (estimator/arch_meta_mistral.py).

Configs: the architecture fields of the released config.json files (Llama 4 Scout and Maverick
Instruct: huggingface.co/meta-llama/...; Devstral 2 / Devstral Small 2 / Ministral 3 3B:
huggingface.co/mistralai/...), as copied into catalog/data/providers/{meta,mistral}.toml.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from estimator.inventory import CacheLayer, tensor_inventory
from estimator.kv import KvOptions, kv_cache
from estimator.memory import MemoryOptions, estimate_memory
from estimator.quant import quantize

SCOUT: dict[str, Any] = {
    "architectures": ["Llama4ForConditionalGeneration"],
    "model_type": "llama4",
    "text_config": {
        "model_type": "llama4_text",
        "attention_chunk_size": 8192,
        "head_dim": 128,
        "hidden_size": 5120,
        "interleave_moe_layer_step": 1,
        "intermediate_size": 8192,
        "intermediate_size_mlp": 16384,
        "num_attention_heads": 40,
        "num_experts_per_tok": 1,
        "num_hidden_layers": 48,
        "num_key_value_heads": 8,
        "num_local_experts": 16,
        "rope_scaling": {
            "factor": 16.0,
            "high_freq_factor": 1.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 8192,
            "rope_type": "llama3",
        },
        "vocab_size": 202048,
    },
}


def maverick() -> dict[str, Any]:
    """Maverick differs from Scout in experts, MoE interleave and rope scaling only."""
    config = copy.deepcopy(SCOUT)
    config["text_config"].update(
        interleave_moe_layer_step=2, num_local_experts=128, rope_scaling=None
    )
    return config


def ministral3(**text: Any) -> dict[str, Any]:
    return {
        "architectures": ["Mistral3ForConditionalGeneration"],
        "model_type": "mistral3",
        "text_config": {
            "model_type": "ministral3",
            "head_dim": 128,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 131072,
            **text,
        },
    }


MINISTRAL_3_3B = ministral3(
    hidden_size=3072, intermediate_size=9216, num_hidden_layers=26, tie_word_embeddings=True
)
DEVSTRAL_SMALL_2 = ministral3(hidden_size=5120, intermediate_size=32768, num_hidden_layers=40)
DEVSTRAL_2 = {
    "architectures": ["Ministral3ForCausalLM"],
    "model_type": "ministral3",
    "head_dim": 128,
    "hidden_size": 12288,
    "intermediate_size": 28672,
    "num_attention_heads": 96,
    "num_hidden_layers": 88,
    "num_key_value_heads": 8,
    "tie_word_embeddings": False,
    "vocab_size": 131072,
}


def test_llama4_scout_language_model_has_107_8b_parameters_and_17_2b_active() -> None:
    # Meta: "17B active / 109B total" with the vision tower; the LM is 107,769,861,120 weights
    # (the 64 rope factors the converter writes for its llama3 rope scaling are not weights).
    inv = tensor_inventory(SCOUT)
    assert inv.params_total == 107_769_861_120
    assert inv.params_active == 17_172_894_720
    assert len(inv.tensors) == 628


def test_llama4_scout_writes_rope_freqs_and_maverick_does_not() -> None:
    scout = {t.name: t.shape for t in tensor_inventory(SCOUT).tensors}
    assert scout["rope_freqs.weight"] == (64,)
    assert "rope_freqs.weight" not in {t.name for t in tensor_inventory(maverick()).tensors}


def test_llama4_maverick_alternates_dense_and_moe_layers() -> None:
    inv = tensor_inventory(maverick())
    names = {t.name: t for t in inv.tensors}
    assert names["blk.0.ffn_up.weight"].shape == (5120, 16384)  # dense: intermediate_size_mlp
    assert "blk.0.ffn_up_exps.weight" not in names
    assert names["blk.1.ffn_up_exps.weight"].shape == (5120, 8192, 128)
    assert names["blk.1.ffn_up_shexp.weight"].shape == (5120, 8192)
    assert inv.params_total == 400_711_848_960
    assert inv.params_active == 17_184_691_200


def test_llama4_caches_three_chunked_layers_of_four_with_llama_cpps_8192_chunk() -> None:
    inv = tensor_inventory(SCOUT)
    assert inv.sliding_window == 8192
    assert [layer.kind for layer in inv.cache[:4]] == ["swa", "swa", "swa", "full"]
    assert dict(inv.cache_groups) == {
        CacheLayer("swa", 1024, 1024): 36,
        CacheLayer("full", 1024, 1024): 12,
    }


def test_llama4_kv_cache_at_128k_is_12_full_layers_and_36_chunked_layers_of_8704_cells() -> None:
    kv = kv_cache(tensor_inventory(SCOUT), KvOptions(n_ctx=131072))
    assert kv.cells_swa == 8704  # pad256(8192 + n_ubatch 512)
    assert kv.full_bytes == 12 * 2 * 1024 * 2 * 131072 == 6_442_450_944
    assert kv.swa_bytes == 36 * 2 * 1024 * 2 * 8704 == 1_283_457_024
    assert kv.bytes == 7_725_907_968


def test_llama4_with_every_layer_full_attention_has_no_chunked_cache() -> None:
    config = copy.deepcopy(SCOUT)
    config["text_config"]["layer_types"] = ["full_attention"] * 48
    inv = tensor_inventory(config)
    assert inv.sliding_window == 0
    assert {layer.kind for layer in inv.cache} == {"full"}


def test_llama4_expert_stacks_take_q4_k_and_keep_the_router_in_f32() -> None:
    weights = quantize(tensor_inventory(SCOUT), "Q4_K_M")
    assert weights.type_of("blk.0.ffn_gate_exps.weight") == "Q4_K"
    assert weights.type_of("blk.0.ffn_gate_inp.weight") == "F32"
    assert weights.type_of("rope_freqs.weight") == "F32"
    assert weights.type_of("output.weight") == "Q6_K"


@pytest.mark.parametrize(
    ("config", "params", "tensors"),
    [
        (MINISTRAL_3_3B, 3_429_006_336, 236),  # card: "3.4B Language Model"
        (DEVSTRAL_SMALL_2, 23_572_403_200, 363),
        (DEVSTRAL_2, 125_025_988_608, 795),
    ],
    ids=["ministral-3-3b", "devstral-small-2", "devstral-2"],
)
def test_ministral3_parameter_counts(config: dict[str, Any], params: int, tensors: int) -> None:
    inv = tensor_inventory(config)
    assert inv.params_total == params
    assert len(inv.tensors) == tensors
    assert inv.exact


def test_ministral3_caches_every_layer_fully_despite_yarn() -> None:
    inv = tensor_inventory(DEVSTRAL_2)
    assert dict(inv.cache_groups) == {CacheLayer("full", 1024, 1024): 88}
    kv = kv_cache(inv, KvOptions(n_ctx=131072))
    assert kv.bytes == 88 * 2 * 1024 * 2 * 131072 == 47_244_640_256


def test_tied_ministral_3_3b_has_no_output_matrix() -> None:
    names = {t.name for t in tensor_inventory(MINISTRAL_3_3B).tensors}
    assert "output.weight" not in names
    assert "token_embd.weight" in names


# transformers 5.24's Mistral4Config defaults (the Mistral Small 4 119B shapes: 36 layers, 128
# experts of 2048 with 4 used and 1 shared, latent attention with kv_lora_rank 256 + 64 rope dims).
MISTRAL_SMALL_4 = {
    "architectures": ["Mistral3ForConditionalGeneration"],
    "model_type": "mistral3",
    "tie_word_embeddings": False,
    "text_config": {
        "model_type": "mistral4",
        "vocab_size": 131072,
        "hidden_size": 4096,
        "intermediate_size": 12288,
        "moe_intermediate_size": 2048,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "n_shared_experts": 1,
        "n_routed_experts": 128,
        "kv_lora_rank": 256,
        "q_lora_rank": 1024,
        "qk_rope_head_dim": 64,
        "qk_nope_head_dim": 64,
        "v_head_dim": 128,
        "num_experts_per_tok": 4,
        "first_k_dense_replace": 0,
    },
}


def test_mistral_small_4_counts_119b_with_6_6b_active() -> None:
    inv = tensor_inventory(MISTRAL_SMALL_4)
    assert inv.params_total == 118_972_826_624
    assert inv.params_active == 6_632_588_288
    assert inv.exact


def test_mistral_small_4_keeps_the_fused_expert_gate_up_stack_and_no_score_bias() -> None:
    names = {t.name: t.shape for t in tensor_inventory(MISTRAL_SMALL_4).tensors}
    assert names["blk.0.ffn_gate_up_exps.weight"] == (4096, 4096, 128)
    assert "blk.0.ffn_gate_exps.weight" not in names
    assert "blk.0.exp_probs_b.bias" not in names
    assert names["blk.0.attn_k_b.weight"] == (64, 256, 32)


def test_mistral_small_4_caches_one_320_wide_latent_per_layer() -> None:
    inv = tensor_inventory(MISTRAL_SMALL_4)
    assert dict(inv.cache_groups) == {CacheLayer("full", 320, 0): 36}
    assert kv_cache(inv, KvOptions(n_ctx=131072)).bytes == 36 * 320 * 2 * 131072


@pytest.mark.parametrize(
    ("config", "file_type", "published"),
    [
        # huggingface.co/unsloth/Llama-4-Scout-17B-16E-Instruct-GGUF, file
        # Llama-4-Scout-17B-16E-Instruct-Q3_K_S.gguf: 46,740,372,480 bytes (the Hub's size, as
        # listed with its repo and file name in a public model catalogue on GitHub).
        (SCOUT, "Q3_K_S", 46_740_372_480),
        # huggingface.co/mistralai/Ministral-3-3B-Instruct-2512-GGUF, file
        # Ministral-3-3B-Instruct-2512-Q4_K_M.gguf: 2,147,023,008 bytes (same listing).
        (MINISTRAL_3_3B, "Q4_K_M", 2_147_023_008),
    ],
    ids=["llama-4-scout-q3_k_s", "ministral-3-3b-q4_k_m"],
)
def test_published_gguf_files_are_within_a_quarter_percent(
    config: dict[str, Any], file_type: str, published: int
) -> None:
    estimate = estimate_memory(config, MemoryOptions(file_type=file_type))
    assert estimate.file_bytes == pytest.approx(published, rel=0.0025)
