"""llama-quantize's per-tensor type rules, checked by hand on known models."""

from __future__ import annotations

from dataclasses import replace

import pytest

from estimator.inventory import tensor_inventory
from estimator.memory import KeyedConfig, MemoryOptions, estimate_memory, with_file_type
from estimator.quant import FILE_TYPES, quantize, tensor_bytes
from tests.estimator.test_inventory import GPT_OSS_20B, LLAMA_31_8B

MORE_BITS_32 = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}


def test_llama_3_1_8b_q4_k_m_types_per_layer() -> None:
    w = quantize(tensor_inventory(LLAMA_31_8B), "Q4_K_M")
    assert w.type_of("token_embd.weight") == "Q4_K"
    assert w.type_of("output.weight") == "Q6_K"
    assert w.type_of("output_norm.weight") == "F32"
    for i in range(32):
        bumped = "Q6_K" if i in MORE_BITS_32 else "Q4_K"
        assert w.type_of(f"blk.{i}.attn_v.weight") == bumped, i
        assert w.type_of(f"blk.{i}.ffn_down.weight") == bumped, i
        assert w.type_of(f"blk.{i}.attn_q.weight") == "Q4_K"
        assert w.type_of(f"blk.{i}.ffn_gate.weight") == "Q4_K"
        assert w.type_of(f"blk.{i}.attn_norm.weight") == "F32"


def test_llama_3_1_8b_sizes_match_llama_cpp_logs() -> None:
    inv = tensor_inventory(LLAMA_31_8B)
    # llama.cpp prints "4.58 GiB (4.89 BPW)" for Q4_K_M and "7.95 GiB (8.50 BPW)" for Q8_0.
    q4 = quantize(inv, "Q4_K_M")
    assert q4.bytes == 4_912_898_048
    assert round(q4.bits_per_weight, 2) == 4.89
    q8 = quantize(inv, "Q8_0")
    assert q8.bytes == 8_532_934_656
    assert round(q8.bits_per_weight, 2) == 8.50


def test_tied_embeddings_take_the_output_type() -> None:
    tied = dict(LLAMA_31_8B, tie_word_embeddings=True)
    w = quantize(tensor_inventory(tied), "Q4_K_M")
    assert w.type_of("token_embd.weight") == "Q6_K"


def test_70b_llama_bumps_attn_v_to_q5_k_in_q3_k_s() -> None:
    l70 = dict(
        LLAMA_31_8B,
        hidden_size=8192,
        intermediate_size=28672,
        num_hidden_layers=80,
        num_attention_heads=64,
    )
    w = quantize(tensor_inventory(l70), "Q3_K_S")
    assert w.type_of("blk.10.attn_v.weight") == "Q5_K"
    assert w.type_of("blk.10.attn_k.weight") == "Q3_K"


def test_eight_expert_models_keep_attention_k_and_v_at_q8_0() -> None:
    mixtral = dict(
        LLAMA_31_8B,
        model_type="mixtral",
        num_local_experts=8,
        num_experts_per_tok=2,
        vocab_size=32000,
    )
    w = quantize(tensor_inventory(mixtral), "Q4_K_M")
    assert w.type_of("blk.0.attn_v.weight") == "Q8_0"
    assert w.type_of("blk.0.attn_k.weight") == "Q8_0"
    assert w.type_of("blk.0.attn_output.weight") == "Q5_K"
    assert w.type_of("blk.0.ffn_gate_inp.weight") == "F32"


def test_rows_not_a_multiple_of_256_fall_back_to_a_32_block_type() -> None:
    # Qwen2.5-0.5B: hidden 896 = 3.5 x 256, so K-quants fall back (Q4_K -> Q5_0, Q6_K -> Q8_0).
    qwen = dict(
        model_type="qwen2",
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    )
    w = quantize(tensor_inventory(qwen), "Q4_K_M")
    assert w.type_of("blk.5.attn_q.weight") == "Q5_0"
    assert w.type_of("token_embd.weight") == "Q8_0"  # output rule: 896 % 256 != 0
    assert w.type_of("blk.4.ffn_down.weight") == "Q4_K"  # rows of 4864 = 19 x 256
    assert w.type_of("blk.5.ffn_down.weight") == "Q6_K"  # a use_more_bits layer of 24


def test_mxfp4_moe_puts_experts_in_mxfp4_and_the_rest_in_q8_0() -> None:
    oss = dict(GPT_OSS_20B, num_hidden_layers=2)
    w = quantize(tensor_inventory(oss), "MXFP4_MOE")
    assert w.type_of("blk.0.ffn_up_exps.weight") == "MXFP4"
    assert w.type_of("blk.0.attn_q.weight") == "Q8_0"
    assert w.type_of("output.weight") == "Q8_0"
    assert w.type_of("blk.0.ffn_up_exps.bias") == "F32"


def test_q8_0_kv_row_is_34_bytes_per_32_elements() -> None:
    from estimator.inventory import Tensor

    assert tensor_bytes(Tensor("x.weight", (4096, 10)), "Q8_0") == 10 * 4096 // 32 * 34


@pytest.mark.parametrize("file_type", list(FILE_TYPES))
def test_every_file_type_gives_positive_whole_bytes_and_keeps_norms_f32(file_type: str) -> None:
    w = quantize(tensor_inventory(LLAMA_31_8B), file_type)
    assert w.bytes > 0 and isinstance(w.bytes, int)
    assert w.type_of("blk.3.ffn_norm.weight") == "F32"
    assert w.params == 8_030_261_248


def test_unknown_file_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown file type 'Q9_K'"):
        quantize(tensor_inventory(LLAMA_31_8B), "Q9_K")


def test_safetensors_sizes_for_vllm_and_transformers() -> None:
    from estimator.safetensors import safetensors_bytes

    sizes = safetensors_bytes(tensor_inventory(LLAMA_31_8B))
    assert sizes["bf16"] == 2 * 8_030_261_248
    # 6,979,321,856 linear weights at 1 byte + an F32 scale per row; the rest stays BF16.
    assert sizes["fp8"] == 9_086_705_664
    # Packed 4-bit weights + 2.5 bytes per group of 128; embeddings and head stay BF16.
    assert sizes["int4_awq_gptq"] == 5_727_854_592


@pytest.mark.parametrize("file_type", ["Q8_0", "Q4_K_M", "IQ2_XXS", "F16"])
def test_changing_only_the_quant_gives_the_same_estimate_as_computing_it_again(
    file_type: str,
) -> None:
    config = KeyedConfig(GPT_OSS_20B)  # sliding-window layers and experts
    opts = MemoryOptions(n_ctx=20480, type_k="q8_0", type_v="q8_0", n_seq=2)
    base = estimate_memory(config, opts)
    again = estimate_memory(config, replace(opts, file_type=file_type))
    assert with_file_type(config, base, file_type) == again
