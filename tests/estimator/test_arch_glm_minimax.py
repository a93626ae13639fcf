"""GLM-4.5/4.7 (glm4_moe), GLM-4.7-Flash (glm4_moe_lite), GLM-5/5.1/5.2 (glm_moe_dsa) and
MiniMax-M2 read exactly as llama.cpp reads them (estimator/arch_glm_minimax.py).

Configs are the released config.json values the catalog files cite (catalog/data/providers/
zai.toml, minimax.toml); the official totals count the next-token-prediction (MTP) layer the
GLM checkpoints store after their last layer. The engine cases in
estimator/data/engine_cases/glm_minimax.json check the same builders against llama.cpp's
converter, quantizer and loader.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from estimator.inventory import tensor_inventory
from estimator.kv import KvOptions, kv_cache

PROVIDERS = Path(__file__).resolve().parents[2] / "catalog" / "data" / "providers"


@cache
def _configs(provider: str) -> dict[str, dict[str, Any]]:
    data = tomllib.loads((PROVIDERS / f"{provider}.toml").read_text())
    return {m["hf_id"]: m["config"] for m in data["models"]}


def config(hf_id: str) -> dict[str, Any]:
    provider = "minimax" if hf_id.startswith("MiniMaxAI/") else "zai"
    return _configs(provider)[hf_id]


def test_glm_4_5_air_counts_its_official_110_468_824_832_parameters() -> None:
    # Hugging Face safetensors total: 46 layers plus the MTP layer with its own embedding and head.
    assert tensor_inventory(config("zai-org/GLM-4.5-Air")).params_total == 110_468_824_832


def test_glm_4_7_counts_its_official_358_337_791_296_parameters() -> None:
    assert tensor_inventory(config("zai-org/GLM-4.7")).params_total == 358_337_791_296


def test_glm_4_7_flash_counts_its_official_31_221_488_576_parameters() -> None:
    assert tensor_inventory(config("zai-org/GLM-4.7-Flash")).params_total == 31_221_488_576


def test_glm_5_1_counts_the_753_864_139_008_parameters_of_its_safetensors() -> None:
    assert tensor_inventory(config("zai-org/GLM-5.1")).params_total == 753_864_139_008


def test_glm_5_2_drops_the_indexer_of_its_57_shared_layers() -> None:
    # 21 of 78 layers (and the MTP layer) keep a lightning indexer: 57 x 9,371,904 fewer
    # parameters than GLM-5.1 (k_norm 2 x 128, proj 6144 x 32, attn_k 6144 x 128, attn_q_b
    # 2048 x 4096).
    glm52 = tensor_inventory(config("zai-org/GLM-5.2"))
    assert glm52.params_total == 753_864_139_008 - 57 * 9_371_904
    assert sum(t.name.endswith("indexer.attn_q_b.weight") for t in glm52.tensors) == 22


def test_minimax_m2_counts_its_weights_without_the_fp8_block_scales() -> None:
    # 228,703,644,928 elements in the M2.7 safetensors, 13,880,064 of them FP8 block scales.
    inv = tensor_inventory(config("MiniMaxAI/MiniMax-M2.7"))
    assert inv.params_total == 228_703_644_928 - 13_880_064
    assert inv.params_active == 11_030_553_088


def test_the_mtp_layer_is_a_block_after_the_last_layer() -> None:
    inv = tensor_inventory(config("zai-org/GLM-4.7"))
    assert (inv.n_layers, inv.blocks) == (92, 93)
    mtp = [t.name for t in inv.tensors if t.name.startswith("blk.92.")]
    assert "blk.92.nextn.eh_proj.weight" in mtp
    assert "blk.92.nextn.shared_head_head.weight" in mtp
    assert "blk.92.ffn_gate_exps.weight" in mtp
    assert len(mtp) == 19 + 6  # a whole MoE decoder block plus the six NextN tensors


def test_glm_5_mtp_block_shares_the_models_embedding_and_head() -> None:
    names = {t.name for t in tensor_inventory(config("zai-org/GLM-5.1")).tensors}
    assert "blk.78.nextn.shared_head_norm.weight" in names
    assert "blk.78.nextn.embed_tokens.weight" not in names
    assert "blk.78.nextn.shared_head_head.weight" not in names


def test_glm_4_5_air_caches_8_kv_heads_of_128_on_46_layers() -> None:
    kv = kv_cache(tensor_inventory(config("zai-org/GLM-4.5-Air")), KvOptions(n_ctx=4096))
    assert kv.bytes == 46 * 2 * 8 * 128 * 2 * 4096  # 736 MiB; no cache for the MTP layer


def test_glm_4_7_flash_caches_one_576_wide_latent_per_token_and_layer() -> None:
    kv = kv_cache(tensor_inventory(config("zai-org/GLM-4.7-Flash")), KvOptions(n_ctx=4096))
    assert kv.bytes == 47 * 576 * 2 * 4096


def test_glm_5_adds_a_128_wide_indexer_key_to_the_latent_on_every_layer() -> None:
    kv = kv_cache(tensor_inventory(config("zai-org/GLM-5.1")), KvOptions(n_ctx=4096))
    assert kv.bytes == 78 * (576 + 128) * 2 * 4096


def test_glm_5_2_keeps_indexer_keys_on_its_21_full_indexer_layers_only() -> None:
    opts = KvOptions(n_ctx=8192, type_k="q8_0", type_v="q8_0")
    kv = kv_cache(tensor_inventory(config("zai-org/GLM-5.2")), opts)
    # q8_0: 34 bytes per 32 elements; MLA keeps no V.
    assert kv.bytes == (21 * (576 + 128) + 57 * 576) * 34 // 32 * 8192


def test_minimax_m2_caches_8_kv_heads_of_128_on_62_layers() -> None:
    kv = kv_cache(tensor_inventory(config("MiniMaxAI/MiniMax-M2")), KvOptions(n_ctx=4096))
    assert kv.bytes == 62 * 2 * 8 * 128 * 2 * 4096


def test_minimax_m2_normalises_q_and_k_over_the_whole_projection() -> None:
    names = {t.name: t.shape for t in tensor_inventory(config("MiniMaxAI/MiniMax-M2")).tensors}
    assert names["blk.0.attn_q_norm.weight"] == (48 * 128,)
    assert names["blk.0.attn_k_norm.weight"] == (8 * 128,)
    assert names["blk.0.exp_probs_b.bias"] == (256,)


GLM_4_5V_TEXT = {  # text_config of zai-org/GLM-4.5V (the vision tower is an encoder apart)
    "model_type": "glm4v_moe",
    "text_config": {
        "model_type": "glm4v_moe_text",
        "attention_bias": True,
        "first_k_dense_replace": 1,
        "head_dim": 128,
        "hidden_size": 4096,
        "intermediate_size": 10944,
        "moe_intermediate_size": 1408,
        "n_routed_experts": 128,
        "n_shared_experts": 1,
        "num_attention_heads": 96,
        "num_experts_per_tok": 8,
        "num_hidden_layers": 46,
        "num_key_value_heads": 8,
        "tie_word_embeddings": False,
        "use_qk_norm": False,
        "vocab_size": 151552,
    },
}


def test_glm_4_5v_text_model_is_glm_4_5_air_without_the_mtp_layer() -> None:
    # 107,710,933,120 in the GLM-4.5V safetensors, 858,681,856 of them the vision tower.
    inv = tensor_inventory(GLM_4_5V_TEXT)
    assert inv.params_total == 107_710_933_120 - 858_681_856
    assert inv.blocks == inv.n_layers == 46
