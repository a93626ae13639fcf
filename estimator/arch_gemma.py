"""Gemma 3n and Gemma 4, read exactly as llama.cpp reads them (see estimator/inventory.py).

Both come from llama.cpp's src/models/gemma3n.cpp and gemma4.cpp (load_arch_hparams and
load_arch_tensors) and from the converter's conversion/gemma.py, which writes the text model only:
vision and audio towers go to the mmproj file.

- Per-layer embeddings (PLE): one table `per_layer_token_embd` of `n_layer x ple` values per token,
  a projection `per_layer_model_proj` from the hidden state, and per layer a gate `inp_gate`, a
  projection `proj` and a norm `post_norm`. The quantizer treats the table like the token
  embedding (Q6_K with tied embeddings in Q4_K_M) and never quantizes the model projection.
- KV sharing: the last layers read the cache of the last earlier layer of the same kind and have
  no cache of their own (CacheLayer kind "none"). The released checkpoints still store k_proj,
  v_proj and k_norm for those layers, and the converter writes them, so they are weights here.
- Gemma 3n adds AltUp (4 parallel streams: `altup_proj`, `altup_unembd_proj` and per-layer
  router/coefficient matrices) and LAuReL (a rank-64 residual); activation sparsity changes no
  weight. Gemma 4 has per-layer head sizes (head_dim on sliding layers, global_head_dim on full
  ones), fewer KV heads on full layers (num_global_key_value_heads), no V projection on full layers
  when attention_k_eq_v (V is K; the cache still holds both), a per-layer output scale, one
  `rope_freqs` tensor for the proportional RoPE of full layers, and in the MoE variant a dense MLP
  beside 128 experts with a fused gate/up stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from estimator.config import Config, ConfigError
from estimator.inventory import Builder, CacheLayer, Dims, Inventory, add_ffn

# llama.cpp's gemma3n.cpp hard-codes the first 20 layers as the ones with a KV cache
# (hparams.n_layer_kv_from_start = 20); that is 30 - 10 shared layers for E2B and 35 - 15 for E4B.
GEMMA3N_KV_LAYERS = 20


def _ff_list(c: Config, n_layers: int) -> list[int]:
    """intermediate_size, which Gemma 3n's config may give per layer (MatFormer)."""
    if isinstance(c.data.get("intermediate_size"), list):
        per_layer = c.int_list("intermediate_size") or []
        if len(per_layer) == 1:
            return per_layer * n_layers
        if len(per_layer) < n_layers:
            raise ConfigError("intermediate_size has fewer entries than layers")
        return per_layer[:n_layers]
    return [c.get_int("intermediate_size")] * n_layers


def _sliding(c: Config, n_layers: int, period: int) -> list[bool]:
    """Sliding-window layers from layer_types (what the converter writes), else every layer but
    each `period`-th."""
    layer_types = c.str_list("layer_types")
    if layer_types:
        if len(layer_types) < n_layers:
            raise ConfigError("layer_types is shorter than num_hidden_layers")
        return [t == "sliding_attention" for t in layer_types[:n_layers]]
    return [(i + 1) % period != 0 for i in range(n_layers)]


def _dims(c: Config, model_type: str) -> Dims:
    """The common dimensions; Gemma 3n's and Gemma 4's configs tie the embeddings by default."""
    return replace(Dims.read(c, model_type), tied=c.get_bool("tie_word_embeddings", default=True))


def _ple(b: Builder, p: str, hidden: int, ple: int) -> None:
    """A layer's per-layer-embedding gate, projection and norm."""
    b.linear(f"{p}.inp_gate", hidden, ple)
    b.linear(f"{p}.proj", ple, hidden)
    b.norm(f"{p}.post_norm", hidden)


def _gemma3n(c: Config, model_type: str) -> Inventory:
    """Gemma 3n (E2B, E4B): AltUp, LAuReL, per-layer embeddings, KV sharing after layer 20."""
    d = _dims(c, model_type)
    head_dim = c.get_int("head_dim", default=256)
    n_altup = c.get_int("altup_num_inputs", default=4)
    laurel = c.get_int("laurel_rank", default=64)
    ple = c.get_int("hidden_size_per_layer_input", default=256)
    n, h, L = d.vocab, d.hidden, d.n_layers
    b = Builder()
    # convert_hf_to_gguf pads the per-layer table (vocab_size_per_layer_input rows) to vocab_size.
    b.add("token_embd.weight", h, n)
    b.add("altup_proj.weight", h, h, n_altup - 1)
    b.add("altup_unembd_proj.weight", h, h, n_altup - 1)
    b.add("per_layer_token_embd.weight", ple * L, n)
    b.linear("per_layer_model_proj", h, ple * L)
    b.norm("per_layer_proj_norm", ple)
    b.norm("output_norm", h)
    if not d.tied:
        b.add("output.weight", h, n)
    q_out, kv_out = d.n_heads * head_dim, d.n_kv_heads * head_dim
    for i, ff in enumerate(_ff_list(c, L)):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", h)
        b.linear(f"{p}.attn_q", h, q_out)
        b.linear(f"{p}.attn_k", h, kv_out)
        b.linear(f"{p}.attn_v", h, kv_out)
        b.linear(f"{p}.attn_output", q_out, h)
        b.norm(f"{p}.attn_q_norm", head_dim)
        b.norm(f"{p}.attn_k_norm", head_dim)
        b.norm(f"{p}.post_attention_norm", h)
        b.norm(f"{p}.ffn_norm", h)
        add_ffn(b, p, h, ff)
        b.norm(f"{p}.post_ffw_norm", h)
        _ple(b, p, h, ple)
        b.add(f"{p}.altup_correct_coef.weight", n_altup, n_altup)
        b.add(f"{p}.altup_correct_scale.weight", h)
        b.add(f"{p}.altup_predict_coef.weight", n_altup, n_altup * n_altup)
        b.linear(f"{p}.altup_router", h, n_altup)
        b.norm(f"{p}.altup_router_norm", h)
        b.linear(f"{p}.laurel_l", h, laurel)
        b.linear(f"{p}.laurel_r", laurel, h)
        b.norm(f"{p}.laurel_post_norm", h)
    window = c.get_int("sliding_window", default=512)
    sliding = _sliding(c, L, 5)
    cache = tuple(
        CacheLayer("none")
        if i >= GEMMA3N_KV_LAYERS
        else CacheLayer("swa" if sliding[i] else "full", kv_out, kv_out)
        for i in range(L)
    )
    return Inventory(
        model_type,
        tuple(b.tensors),
        L,
        d.n_heads,
        d.n_kv_heads,
        cache=cache,
        sliding_window=window if any(sliding[:GEMMA3N_KV_LAYERS]) else 0,
    )


def _gemma4(c: Config, model_type: str) -> Inventory:
    """Gemma 4 (E2B, E4B, 26B-A4B, 31B): per-layer head sizes and KV heads, KV sharing, PLE, MoE."""
    d = _dims(c, model_type)
    n, h, L = d.vocab, d.hidden, d.n_layers
    swa_dim = c.get_int("head_dim", default=256)
    full_dim = c.get_int("global_head_dim", default=swa_dim)
    full_kv = c.get_int("num_global_key_value_heads", default=d.n_kv_heads)
    k_eq_v = c.get_bool("attention_k_eq_v", default=False)
    ple = c.get_int("hidden_size_per_layer_input", default=0)
    n_shared = c.get_int("num_kv_shared_layers", default=0)
    first_shared = L - n_shared
    if first_shared < 0:
        raise ConfigError("num_kv_shared_layers exceeds num_hidden_layers")
    ff = c.get_int("intermediate_size")
    double_wide = c.get_bool("use_double_wide_mlp", default=False)
    moe = c.get_bool("enable_moe_block", default=False)
    n_experts = c.get_int("num_experts", default=0) if moe else 0
    n_used = c.get_int("top_k_experts", "num_experts_per_tok", default=0) if moe else 0
    moe_ff = c.get_int("moe_intermediate_size", "expert_intermediate_size") if moe else 0
    sliding = _sliding(c, L, 6)
    b = Builder()
    b.add("token_embd.weight", h, n)
    if ple:
        ple_vocab = c.get_int("vocab_size_per_layer_input", default=n)
        b.add("per_layer_token_embd.weight", ple * L, ple_vocab)
        b.linear("per_layer_model_proj", h, ple * L)
        b.norm("per_layer_proj_norm", ple)
    b.norm("output_norm", h)
    if not d.tied:
        b.add("output.weight", h, n)
    if not all(sliding):  # generate_extra_tensors: 1e30 factors for the unrotated dims
        b.add("rope_freqs.weight", full_dim // 2)
    cache = []
    for i in range(L):
        p = f"blk.{i}"
        head_dim = swa_dim if sliding[i] else full_dim
        kv_heads = d.n_kv_heads if sliding[i] else full_kv
        q_out, kv_out = d.n_heads * head_dim, kv_heads * head_dim
        b.norm(f"{p}.attn_norm", h)
        b.linear(f"{p}.attn_q", h, q_out)
        b.linear(f"{p}.attn_k", h, kv_out)
        if not (k_eq_v and not sliding[i]):
            b.linear(f"{p}.attn_v", h, kv_out)
        b.linear(f"{p}.attn_output", q_out, h)
        b.norm(f"{p}.attn_q_norm", head_dim)
        b.norm(f"{p}.attn_k_norm", head_dim)
        b.norm(f"{p}.post_attention_norm", h)
        b.add(f"{p}.layer_output_scale.weight", 1)
        b.norm(f"{p}.ffn_norm", h)
        add_ffn(b, p, h, 2 * ff if double_wide and i >= first_shared else ff)
        b.norm(f"{p}.post_ffw_norm", h)
        if moe:
            b.linear(f"{p}.ffn_gate_inp", h, n_experts)
            b.add(f"{p}.ffn_gate_inp.scale", h)
            b.norm(f"{p}.pre_ffw_norm_2", h)
            b.norm(f"{p}.post_ffw_norm_1", h)
            b.norm(f"{p}.post_ffw_norm_2", h)
            b.add(f"{p}.ffn_gate_up_exps.weight", h, 2 * moe_ff, n_experts, experts=n_experts)
            b.add(f"{p}.ffn_down_exps.weight", moe_ff, h, n_experts, experts=n_experts)
            b.add(f"{p}.ffn_down_exps.scale", n_experts)
        if ple:
            _ple(b, p, h, ple)
        if i >= first_shared:
            cache.append(CacheLayer("none"))
        else:
            cache.append(CacheLayer("swa" if sliding[i] else "full", kv_out, kv_out))
    window = c.get_int("sliding_window", default=512)
    return Inventory(
        model_type,
        tuple(b.tensors),
        L,
        d.n_heads,
        d.n_kv_heads if sliding[0] else full_kv,
        n_experts,
        n_used,
        cache=tuple(cache),
        sliding_window=window if any(layer.kind == "swa" for layer in cache) else 0,
    )


BUILDERS: dict[str, Callable[[Config, str], Inventory]] = {
    "gemma3n": _gemma3n,
    "gemma3n_text": _gemma3n,
    "gemma4": _gemma4,
    "gemma4_text": _gemma4,
}
