"""Architectures read exactly as current llama.cpp reads them (see estimator/inventory.py).

Dense and MoE decoders from more providers: ByteDance Seed-OSS, Baidu ERNIE 4.5, Tencent Hunyuan,
LG EXAONE 4.0, rednote dots.llm1, Arcee AFM, Swiss AI Apertus, Hugging Face SmolLM3 and Ai2
OLMo 3. Each builder follows the architecture's `load_arch_tensors` in llama.cpp's
src/models/<arch>.cpp and what convert_hf_to_gguf (conversion/<family>.py) writes; every layer
caches K and V fully unless the architecture applies a sliding window.

The converter adds rope_freqs.weight (head_dim / 2 F32 rope factors) for "llama3" rope scaling:
EXAONE 4.0 with that scaling and every Apertus (its config class defaults to it). It is in the file
and in llama.cpp's model buffer, so it is listed; being derived from the config, it is no parameter
(inventory.DERIVED).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from estimator.config import Config
from estimator.inventory import (
    Builder,
    CacheLayer,
    Dims,
    Inventory,
    add_attention,
    add_embeddings,
    add_experts,
    add_ffn,
    llama_like,
)


def _windowed_cache(c: Config, d: Dims, window: int) -> tuple[CacheLayer, ...]:
    """Every layer's cache; with a window, the sliding layers' cells are bounded by it."""
    if not window:
        return d.full_cache()
    width = d.n_kv_heads * d.head_dim
    sliding = _sliding_layers(c, d.n_layers)
    return tuple(CacheLayer("swa" if s else "full", width, width) for s in sliding)


def _llama3_rope(c: Config) -> bool:
    """Whether the config asks for Llama 3 rope scaling (rope_scaling or rope_parameters)."""
    for key in ("rope_scaling", "rope_parameters"):
        rope = c.data.get(key)
        if isinstance(rope, dict) and "llama3" in (rope.get("rope_type"), rope.get("type")):
            return True
    return False


def _rope_freqs(b: Builder, d: Dims) -> None:
    """The rope factors convert_hf_to_gguf writes for llama3 scaling (generate_extra_tensors)."""
    b.add("rope_freqs.weight", d.head_dim // 2)


def _sliding_layers(c: Config, n_layers: int) -> list[bool]:
    """Which layers slide, as the converter writes the pattern: layer_types, else the
    sliding_window_pattern string ("LLLG") or period (4: every 4th layer global)."""
    layer_types = c.str_list("layer_types")
    if layer_types:
        return [t == "sliding_attention" for t in layer_types[:n_layers]]
    pattern = c.data.get("sliding_window_pattern")
    if isinstance(pattern, str) and pattern:
        return [pattern[i % len(pattern)] == "L" for i in range(n_layers)]
    period = pattern if isinstance(pattern, int) and pattern > 0 else 4
    return [(i + 1) % period != 0 for i in range(n_layers)]


def _seed_oss(c: Config, model_type: str) -> Inventory:
    """Seed-OSS (src/models/seed-oss.cpp): biased q/k/v, unbiased output, a pre-FFN norm
    stored as post_attention_norm."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    qkv_bias = c.get_bool("attention_bias", default=True)
    o_bias = c.get_bool("attention_out_bias", default=False)
    mlp_bias = c.get_bool("mlp_bias", default=False)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=qkv_bias, o_bias=o_bias)
        b.norm(f"{p}.post_attention_norm", d.hidden)
        add_ffn(b, p, d.hidden, c.get_int("intermediate_size"), bias=mlp_bias)
    return Inventory(model_type, tuple(b.tensors), *d.counts, cache=d.full_cache())


def _ernie4_5(c: Config, model_type: str) -> Inventory:
    """ERNIE 4.5 dense and MoE (src/models/ernie4-5.cpp): MoE from layer moe_layer_start_index
    on, with a router, a score-correction bias and shared experts; the converter drops the
    MTP block (conversion/ernie.py)."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    bias = c.get_bool("use_bias", default=False)
    moe = model_type == "ernie4_5_moe"
    n_experts = c.get_int("moe_num_experts", default=0) if moe else 0
    first_moe = c.get_int("moe_layer_start_index", default=0)
    n_shared = c.get_int("moe_num_shared_experts", default=0)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias)
        b.norm(f"{p}.ffn_norm", d.hidden)
        if n_experts and i >= first_moe:
            moe_ff = c.get_int("moe_intermediate_size")
            b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
            b.add(f"{p}.exp_probs_b.bias", n_experts)
            add_experts(b, p, d.hidden, moe_ff, n_experts)
            if n_shared:
                add_ffn(b, p, d.hidden, moe_ff * n_shared, suffix="_shexp")
        else:
            add_ffn(b, p, d.hidden, c.get_int("intermediate_size"))
    n_used = c.get_int("moe_k", default=0) if moe else 0
    return Inventory(
        model_type, tuple(b.tensors), *d.counts, n_experts, n_used, cache=d.full_cache()
    )


def _dots1(c: Config, model_type: str) -> Inventory:
    """dots.llm1 (src/models/dots1.cpp, converted as Qwen2-MoE by conversion/dots1.py): per-head
    q/k norms, dense first_k_dense_replace layers, then a sigmoid router with a score-correction
    bias, routed experts and shared experts of n_shared_experts x moe_intermediate_size."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    bias = c.get_bool("attention_bias", default=False)
    n_experts = c.get_int("n_routed_experts")
    first_moe = c.get_int("first_k_dense_replace", default=0)
    moe_ff = c.get_int("moe_intermediate_size")
    n_shared = c.get_int("n_shared_experts", default=0)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias, qk_norm="head")
        b.norm(f"{p}.ffn_norm", d.hidden)
        if i < first_moe:
            add_ffn(b, p, d.hidden, c.get_int("intermediate_size"))
            continue
        b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
        b.add(f"{p}.exp_probs_b.bias", n_experts)
        add_experts(b, p, d.hidden, moe_ff, n_experts)
        if n_shared:
            add_ffn(b, p, d.hidden, moe_ff * n_shared, suffix="_shexp")
    n_used = c.get_int("num_experts_per_tok")
    return Inventory(
        model_type, tuple(b.tensors), *d.counts, n_experts, n_used, cache=d.full_cache()
    )


def _hunyuan_dense(c: Config, model_type: str) -> Inventory:
    """Hunyuan dense 0.5B-7B (src/models/hunyuan-vl.cpp's tensors): per-head q/k RMSNorm."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    bias = c.get_bool("attention_bias", default=False)
    mlp_bias = c.get_bool("mlp_bias", default=False)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias, qk_norm="head")
        b.norm(f"{p}.ffn_norm", d.hidden)
        add_ffn(b, p, d.hidden, c.get_int("intermediate_size"), bias=mlp_bias)
    return Inventory(model_type, tuple(b.tensors), *d.counts, cache=d.full_cache())


def _post_norm_layers(b: Builder, d: Dims, ff: int, qk_norm: str) -> None:
    """Layers normalised after attention and after the FFN only (EXAONE 4, OLMo 2/3)."""
    for i in range(d.n_layers):
        p = f"blk.{i}"
        add_attention(b, p, d, qk_norm=qk_norm)
        b.norm(f"{p}.post_attention_norm", d.hidden)
        add_ffn(b, p, d.hidden, ff)
        b.norm(f"{p}.post_ffw_norm", d.hidden)


def _exaone4(c: Config, model_type: str) -> Inventory:
    """EXAONE 4.0 (src/models/exaone4.cpp): norms after attention and FFN only, per-head q/k
    norms. llama.cpp applies the 3:1 sliding window only to the 64-layer (32B) model."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    if _llama3_rope(c):
        _rope_freqs(b, d)
    _post_norm_layers(b, d, c.get_int("intermediate_size"), qk_norm="head")
    # load_arch_hparams: 64 layers -> a 4096 window unless the GGUF names one, pattern 4
    window = (c.get_int("sliding_window", default=0) or 4096) if d.n_layers == 64 else 0
    cache = _windowed_cache(c, d, window)
    return Inventory(model_type, tuple(b.tensors), *d.counts, cache=cache, sliding_window=window)


def _olmo3(c: Config, model_type: str) -> Inventory:
    """OLMo 3 (converted as llama.cpp's olmo2, src/models/olmo2.cpp): OLMo 2's tensors and a
    sliding window on three of four layers (layer_types)."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    _post_norm_layers(b, d, c.get_int("intermediate_size"), qk_norm="full")
    window = c.get_int("sliding_window", default=0)
    cache = _windowed_cache(c, d, window)
    return Inventory(model_type, tuple(b.tensors), *d.counts, cache=cache, sliding_window=window)


def _up_down_decoder(c: Config, model_type: str) -> Inventory:
    """Non-gated MLP decoders: Arcee AFM (ReLU², src/models/arcee.cpp) and Apertus (xIELU,
    src/models/apertus.cpp, with per-head q/k norms; xIELU's four scalars per layer are GGUF
    metadata, not tensors)."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    bias = c.get_bool("attention_bias", default=False)
    mlp_bias = c.get_bool("mlp_bias", default=False)
    ff = c.get_int("intermediate_size")
    qk_norm = "head" if model_type == "apertus" and c.get_bool("qk_norm", default=True) else ""
    if model_type == "apertus":  # ApertusConfig's default rope is llama3: always written
        _rope_freqs(b, d)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias, qk_norm=qk_norm)
        b.norm(f"{p}.ffn_norm", d.hidden)
        b.linear(f"{p}.ffn_up", d.hidden, ff, bias=mlp_bias)
        b.linear(f"{p}.ffn_down", ff, d.hidden, bias=mlp_bias)
    return Inventory(model_type, tuple(b.tensors), *d.counts, cache=d.full_cache())


def _smollm3(c: Config, model_type: str) -> Inventory:
    """SmolLM3 (src/models/smollm3.cpp): Llama's tensors and cache; every 4th layer skips RoPE,
    which changes neither."""
    return replace(llama_like(c, "llama"), model_type=model_type)


BUILDERS: dict[str, Callable[[Config, str], Inventory]] = {
    "seed_oss": _seed_oss,
    "ernie4_5": _ernie4_5,
    "ernie4_5_moe": _ernie4_5,
    "dots1": _dots1,
    "hunyuan_v1_dense": _hunyuan_dense,
    "exaone4": _exaone4,
    "olmo3": _olmo3,
    "arcee": _up_down_decoder,
    "apertus": _up_down_decoder,
    "smollm3": _smollm3,
}
