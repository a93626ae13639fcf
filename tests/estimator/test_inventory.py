"""Parameter counts from config.json must equal the official totals of the released weights."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from estimator.config import ConfigError
from estimator.encoders import vit_params
from estimator.inventory import tensor_inventory

LLAMA_31_8B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "tie_word_embeddings": False,
}


GPT_OSS_20B = {
    "model_type": "gpt_oss",
    "hidden_size": 2880,
    "intermediate_size": 2880,
    "num_hidden_layers": 24,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "num_local_experts": 32,
    "num_experts_per_tok": 4,
    "vocab_size": 201088,
    "tie_word_embeddings": False,
}
COMMAND_R = {
    "model_type": "cohere",
    "hidden_size": 8192,
    "intermediate_size": 22528,
    "num_hidden_layers": 40,
    "num_attention_heads": 64,
    "num_key_value_heads": 64,
    "vocab_size": 256000,
}
DEEPSEEK_V3 = {
    "model_type": "deepseek_v3",
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 61,
    "num_attention_heads": 128,
    "num_key_value_heads": 128,
    "n_routed_experts": 256,
    "n_shared_experts": 1,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 3,
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128,
    "v_head_dim": 128,
    "vocab_size": 129280,
    "num_nextn_predict_layers": 1,
}


def test_llama_3_1_8b_has_8_030_261_248_parameters() -> None:
    inv = tensor_inventory(LLAMA_31_8B)
    assert inv.params_total == 8_030_261_248
    assert inv.params_active == inv.params_total
    # 32 layers x 9 tensors (2 norms, q, k, v, o, gate, up, down) + embd, output_norm, output
    assert len(inv.tensors) == 32 * 9 + 3


def test_mixtral_8x7b_counts_all_experts_but_activates_two() -> None:
    inv = tensor_inventory(
        {
            "model_type": "mixtral",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 32000,
            "num_local_experts": 8,
            "num_experts_per_tok": 2,
        }
    )
    assert inv.params_total == 46_702_792_704
    assert inv.params_active == 12_879_925_248


def test_qwen3_30b_a3b_has_30_532_122_624_parameters() -> None:
    inv = tensor_inventory(
        {
            "model_type": "qwen3_moe",
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "moe_intermediate_size": 768,
            "num_hidden_layers": 48,
            "num_attention_heads": 32,
            "num_key_value_heads": 4,
            "head_dim": 128,
            "num_experts": 128,
            "num_experts_per_tok": 8,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "vocab_size": 151936,
            "tie_word_embeddings": False,
        }
    )
    assert inv.params_total == 30_532_122_624
    assert inv.params_active == 3_353_032_704


def test_gpt_oss_20b_counts_biases_sinks_and_router_bias() -> None:
    inv = tensor_inventory(GPT_OSS_20B)
    assert inv.params_total == 20_914_757_184
    assert inv.params_active == 4_187_440_704


def test_deepseek_v3_main_model_without_mtp_has_671_026_419_200_parameters() -> None:
    inv = tensor_inventory(DEEPSEEK_V3)
    assert inv.params_total == 671_026_419_200
    assert inv.params_active == 37_552_297_472


# DeepSeek-V2-Lite's shapes (https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite/blob/main/config.json).
DEEPSEEK_V2_LITE = {
    "model_type": "deepseek_v2",
    "hidden_size": 2048,
    "intermediate_size": 10944,
    "moe_intermediate_size": 1408,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "n_routed_experts": 64,
    "n_shared_experts": 2,
    "num_experts_per_tok": 6,
    "first_k_dense_replace": 1,
    "kv_lora_rank": 512,
    "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128,
    "v_head_dim": 128,
    "vocab_size": 102400,
}


def test_deepseek_v2_lite_has_no_q_lora_and_no_score_bias() -> None:
    inv = tensor_inventory({**DEEPSEEK_V2_LITE, "topk_method": "greedy"})
    assert inv.params_total == 15_706_484_224
    assert not any("exp_probs_b" in t.name for t in inv.tensors)


def test_phi_3_5_moe_counts_layernorm_biases_and_lm_head_bias() -> None:
    inv = tensor_inventory(
        {
            "model_type": "phimoe",
            "hidden_size": 4096,
            "intermediate_size": 6400,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "num_local_experts": 16,
            "num_experts_per_tok": 2,
            "vocab_size": 32064,
            "attention_bias": True,
            "lm_head_bias": True,
        }
    )
    assert inv.params_total == 41_873_153_344


def test_falcon_7b_reads_old_config_names_and_counts_the_stored_head() -> None:
    inv = tensor_inventory(
        {
            "model_type": "falcon",
            "hidden_size": 4544,
            "n_layer": 32,
            "n_head": 71,
            "multi_query": True,
            "parallel_attn": True,
            "bias": False,
            "vocab_size": 65024,
        }
    )
    # HF's total for tiiuae/falcon-7b, which stores lm_head.weight beside the embeddings.
    assert inv.params_total == 7_217_189_760
    qkv = next(t for t in inv.tensors if t.name == "blk.0.attn_qkv.weight")
    assert qkv.shape == (4544, (71 + 2) * 64)  # multi-query: one K and one V head


def test_falcon_40b_new_decoder_architecture_has_8_kv_heads_and_two_layernorms() -> None:
    inv = tensor_inventory(
        {
            "model_type": "falcon",
            "hidden_size": 8192,
            "num_hidden_layers": 60,
            "num_attention_heads": 128,
            "num_kv_heads": 8,
            "new_decoder_architecture": True,
            "parallel_attn": True,
            "bias": False,
            "vocab_size": 65024,
        }
    )
    assert inv.params_total == 41_835_970_560  # HF's safetensors total for tiiuae/falcon-40b


def test_command_r_is_tied_with_one_norm_per_layer() -> None:
    inv = tensor_inventory(COMMAND_R)
    assert inv.params_total == 34_980_831_232


def test_gemma_3_reads_the_text_config_of_a_multimodal_config() -> None:
    inv = tensor_inventory(
        {
            "model_type": "gemma3",
            "text_config": {
                "model_type": "gemma3_text",
                "hidden_size": 2560,
                "intermediate_size": 10240,
                "num_hidden_layers": 34,
                "num_attention_heads": 8,
                "num_key_value_heads": 4,
                "head_dim": 256,
                "vocab_size": 262208,
            },
            "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152},
        }
    )
    assert inv.model_type == "gemma3_text"
    # Official total 4,300,079,472 minus SigLIP (416,866,032) and projector (2,950,272).
    assert inv.params_total == 3_880_263_168


def test_gemma_2_has_four_norms_per_layer() -> None:
    inv = tensor_inventory(
        {
            "model_type": "gemma2",
            "hidden_size": 3584,
            "intermediate_size": 14336,
            "num_hidden_layers": 42,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 256,
            "vocab_size": 256000,
        }
    )
    assert inv.params_total == 9_241_705_984
    assert sum(1 for t in inv.tensors if t.name.startswith("blk.0.") and "norm" in t.name) == 4


def test_unknown_model_type_falls_back_to_a_generic_decoder_marked_inexact() -> None:
    inv = tensor_inventory(dict(LLAMA_31_8B, model_type="brand_new_arch"))
    assert inv.exact is False
    assert inv.params_total == 8_030_261_248


def test_missing_field_raises_config_error_naming_it() -> None:
    config = dict(LLAMA_31_8B)
    del config["num_hidden_layers"]
    with pytest.raises(ConfigError, match="num_hidden_layers"):
        tensor_inventory(config)


def test_wrong_type_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="hidden_size must be an integer"):
        tensor_inventory(dict(LLAMA_31_8B, hidden_size="4096"))


def test_missing_model_type_raises() -> None:
    with pytest.raises(ConfigError, match="model_type"):
        tensor_inventory({"hidden_size": 4096})


@given(layers=st.integers(min_value=1, max_value=200))
def test_each_llama_layer_adds_exactly_218_112_000_parameters(layers: int) -> None:
    # 2 norms (8,192) + q,o (2 x 16,777,216) + k,v (2 x 4,194,304) + gate,up,down (3 x 58,720,256)
    base = tensor_inventory(dict(LLAMA_31_8B, num_hidden_layers=1)).params_total
    more = tensor_inventory(dict(LLAMA_31_8B, num_hidden_layers=layers)).params_total
    assert more - base == (layers - 1) * 218_112_000


def test_siglip_tower_of_gemma_3_has_416_866_032_parameters() -> None:
    siglip = {
        "model_type": "siglip_vision_model",
        "hidden_size": 1152,
        "image_size": 896,
        "intermediate_size": 4304,
        "num_hidden_layers": 27,
        "patch_size": 14,
        "vision_use_head": False,
    }
    assert vit_params(siglip) == 416_866_032
    # The pooling head (probe, attention, LayerNorm, MLP) adds 15,238,352 when present.
    assert vit_params(dict(siglip, vision_use_head=True)) == 416_866_032 + 15_238_352


def test_clip_vit_l_14_336_of_phi_3_5_vision_has_303_507_456_parameters() -> None:
    clip = {
        "model_type": "clip_vision_model",
        "hidden_size": 1024,
        "image_size": 336,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "patch_size": 14,
    }
    assert vit_params(clip) == 303_507_456


def test_unknown_vision_tower_type_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot count a vision tower"):
        vit_params({"model_type": "conformer"})


def test_an_unknown_mixture_of_experts_reads_its_expert_width_and_is_marked_inexact() -> None:
    """A future model_type with Qwen3-MoE-style fields: experts of moe_intermediate_size, not
    of the dense intermediate_size (which would make a 30B model 234B)."""
    config = {
        "model_type": "future_moe",
        "hidden_size": 2048,
        "intermediate_size": 6144,
        "moe_intermediate_size": 768,
        "num_hidden_layers": 48,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "head_dim": 128,
        "num_experts": 128,
        "num_experts_per_tok": 8,
        "vocab_size": 151936,
    }
    inv = tensor_inventory(config)
    assert not inv.exact
    assert inv.model_type == "future_moe"
    # Qwen3-30B-A3B's shapes, read as Qwen3-MoE: its official total.
    assert inv.params_total == 30_532_122_624
    assert inv.n_experts == 128


def test_an_unknown_latent_attention_model_caches_the_latent() -> None:
    inv = tensor_inventory({**DEEPSEEK_V2_LITE, "model_type": "future_mla"})
    assert not inv.exact
    assert {layer.k_width for layer in inv.cache} == {512 + 64}
    assert {layer.v_width for layer in inv.cache} == {0}


def test_a_checkpoint_released_in_mxfp4_is_counted_as_released() -> None:
    """gpt-oss-20b ships its experts in MXFP4 (4.25 bits), the rest in BF16: 13.76 GB on disk
    (https://huggingface.co/openai/gpt-oss-20b, model card: "fits within 16GB of memory")."""
    from estimator.safetensors import released_bytes

    inv = tensor_inventory(GPT_OSS_20B)
    experts = sum(t.n_elements for t in inv.tensors if t.experts > 1 and t.name.endswith("weight"))
    rest = inv.params_total - experts
    expected = experts // 2 + experts // 32 + 2 * rest
    assert released_bytes(inv, {"quant_method": "mxfp4"}) == expected


def test_int4_experts_left_out_modules_stay_bf16() -> None:
    """Kimi K2.5's compressed-tensors pack: routed experts at 4 bits with a BF16 scale per 32;
    attention, shared experts and dense layers in its ignore list stay BF16."""
    from estimator.safetensors import released_bytes

    inv = tensor_inventory(GPT_OSS_20B)
    q = {
        "quant_method": "compressed-tensors",
        "ignore": ["lm_head", "re:.*self_attn.*"],
        "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int", "group_size": 32}}},
    }
    experts = sum(t.n_elements for t in inv.tensors if t.experts > 1 and t.name.endswith("weight"))
    rest = inv.params_total - experts
    assert released_bytes(inv, q) == experts // 2 + 2 * (experts // 32) + 2 * rest
    assert released_bytes(inv, {"quant_method": "awq"}) is None
