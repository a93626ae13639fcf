"""Every weight tensor of a language model, derived from its config.json.

Tensor names follow llama.cpp's GGUF names (``blk.N.attn_q.weight``) and shapes are in ggml order:
the first dimension is the row length (the input features of a linear layer), then the rows, then
the expert count for stacked MoE tensors. The parameter count is the sum over this inventory and
must equal the official total of the released checkpoint (tests check this for many models).
"""

from __future__ import annotations

import math
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from estimator.config import Config, ConfigError, text_config
from estimator.encoders import vit_params

# Tensors convert_hf_to_gguf computes from the config rather than copies from the checkpoint.
DERIVED = frozenset({"rope_freqs.weight"})


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    experts: int = 1  # > 1 for a stack of MoE expert matrices (the last dimension)

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class CacheLayer:
    """What one layer keeps per token (attention) or per sequence (recurrent), in elements."""

    kind: str  # "full", "swa" (sliding window), "recurrent", or "none" (no cache of its own)
    k_width: int = 0  # K elements per token: n_kv_heads x head_dim (MLA: the 576-wide latent)
    v_width: int = 0  # V elements per token; 0 when V is read from the K latent (MLA)
    r_size: int = 0  # recurrent conv state elements per sequence (F32)
    s_size: int = 0  # recurrent SSM / delta-net state elements per sequence (F32)


@dataclass(frozen=True)
class Inventory:
    model_type: str
    tensors: tuple[Tensor, ...]
    n_layers: int
    n_heads: int
    n_kv_heads: int  # of the first layer, as llama.cpp's n_gqa() reads it
    n_experts: int = 0
    n_experts_used: int = 0
    exact: bool = True  # False when an unknown model_type fell back to a generic decoder
    cache: tuple[CacheLayer, ...] = ()
    sliding_window: int = 0
    cache_groups: tuple[tuple[CacheLayer, int], ...] = ()  # distinct layer kinds and counts
    n_blocks: int = 0  # GGUF block_count when it exceeds n_layers (MTP / next-token layers)
    attention_kv_heads: int = 0  # hybrids whose layer 0 has no attention: its layers' KV heads

    @property
    def blocks(self) -> int:
        """Layers the GGUF stores (llama.cpp's n_layer_all): the repeating layers plus any
        next-token-prediction layers, which the quantizer counts too."""
        return self.n_blocks or self.n_layers

    @cached_property
    def params_total(self) -> int:
        """Parameters of the checkpoint: every tensor but those the converter computes (the
        llama3-style rope_freqs table is derived from the config, not a weight)."""
        return sum(t.n_elements for t in self.tensors if t.name not in DERIVED)

    @cached_property
    def params_active(self) -> int:
        """Parameters used per token: everything except the routed experts not selected and
        the next-token-prediction layers (used only for speculative decoding)."""
        total = 0
        for t in self.tensors:
            if t.name in DERIVED:
                continue
            if t.name.startswith("blk.") and int(t.name.split(".", 2)[1]) >= self.n_layers:
                continue
            if t.experts > 1:
                total += t.n_elements // t.experts * self.n_experts_used
            else:
                total += t.n_elements
        return total


@dataclass
class Builder:
    """An inventory's tensors in the order the converter writes them (the quantizer's counters
    follow that order). With Dims and the add_* blocks below it is what estimator/arch_*.py
    build on."""

    tensors: list[Tensor] = field(default_factory=list)

    def add(self, name: str, *shape: int, experts: int = 1) -> None:
        self.tensors.append(Tensor(name, tuple(shape), experts))

    def linear(self, name: str, n_in: int, n_out: int, *, bias: bool = False) -> None:
        self.add(f"{name}.weight", n_in, n_out)
        if bias:
            self.add(f"{name}.bias", n_out)

    def norm(self, name: str, dim: int, *, bias: bool = False) -> None:
        self.add(f"{name}.weight", dim)
        if bias:
            self.add(f"{name}.bias", dim)


# tie_word_embeddings defaults of each transformers config class (used when config.json omits it).
TIED_BY_DEFAULT = {
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3_text",
    "cohere",
    "cohere2",
    "falcon",
    "starcoder2",
}


@dataclass(frozen=True)
class Dims:
    """The sizes most decoders share, read from a config with its fields' historical aliases."""

    hidden: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: int
    tied: bool

    @classmethod
    def read(cls, c: Config, model_type: str) -> Dims:
        hidden = c.get_int("hidden_size", "n_embd", "d_model")
        n_heads = c.get_int("num_attention_heads", "n_head", "n_heads")
        if n_heads == 0:
            raise ConfigError("num_attention_heads must be positive")
        return cls(
            hidden=hidden,
            n_layers=c.get_int("num_hidden_layers", "n_layer", "num_layers"),
            n_heads=n_heads,
            n_kv_heads=c.get_int(
                "num_key_value_heads", "num_kv_heads", "n_head_kv", default=n_heads
            ),
            head_dim=c.get_int("head_dim", default=hidden // n_heads),
            vocab=c.get_int("vocab_size"),
            tied=c.get_bool("tie_word_embeddings", default=model_type in TIED_BY_DEFAULT),
        )

    @property
    def counts(self) -> tuple[int, int, int]:
        return self.n_layers, self.n_heads, self.n_kv_heads

    @property
    def full_layer(self) -> CacheLayer:
        """One fully cached attention layer: K and V of every KV head."""
        width = self.n_kv_heads * self.head_dim
        return CacheLayer("full", width, width)

    def full_cache(self) -> tuple[CacheLayer, ...]:
        """Every layer fully cached."""
        return (self.full_layer,) * self.n_layers


def add_embeddings(b: Builder, d: Dims, *, norm_bias: bool = False) -> None:
    b.add("token_embd.weight", d.hidden, d.vocab)
    b.norm("output_norm", d.hidden, bias=norm_bias)
    if not d.tied:
        b.add("output.weight", d.hidden, d.vocab)


def add_attention(
    b: Builder,
    p: str,
    d: Dims,
    *,
    qkv_bias: bool = False,
    o_bias: bool = False,
    qk_norm: str = "",
    q_gate: bool = False,
) -> None:
    """Separate q/k/v/o projections; qk_norm is "head" (per head dim) or "full" (whole width)."""
    q_out = d.n_heads * d.head_dim
    kv_out = d.n_kv_heads * d.head_dim
    b.linear(f"{p}.attn_q", d.hidden, q_out * (2 if q_gate else 1), bias=qkv_bias)
    b.linear(f"{p}.attn_k", d.hidden, kv_out, bias=qkv_bias)
    b.linear(f"{p}.attn_v", d.hidden, kv_out, bias=qkv_bias)
    b.linear(f"{p}.attn_output", q_out, d.hidden, bias=o_bias)
    if qk_norm == "head":
        b.norm(f"{p}.attn_q_norm", d.head_dim)
        b.norm(f"{p}.attn_k_norm", d.head_dim)
    elif qk_norm == "full":
        b.norm(f"{p}.attn_q_norm", q_out)
        b.norm(f"{p}.attn_k_norm", kv_out)


def add_ffn(
    b: Builder, p: str, hidden: int, ff: int, *, bias: bool = False, suffix: str = ""
) -> None:
    b.linear(f"{p}.ffn_gate{suffix}", hidden, ff, bias=bias)
    b.linear(f"{p}.ffn_up{suffix}", hidden, ff, bias=bias)
    b.linear(f"{p}.ffn_down{suffix}", ff, hidden, bias=bias)


def add_experts(b: Builder, p: str, hidden: int, ff: int, n: int, *, bias: bool = False) -> None:
    b.add(f"{p}.ffn_gate_exps.weight", hidden, ff, n, experts=n)
    b.add(f"{p}.ffn_up_exps.weight", hidden, ff, n, experts=n)
    b.add(f"{p}.ffn_down_exps.weight", ff, hidden, n, experts=n)
    if bias:
        b.add(f"{p}.ffn_gate_exps.bias", ff, n, experts=n)
        b.add(f"{p}.ffn_up_exps.bias", ff, n, experts=n)
        b.add(f"{p}.ffn_down_exps.bias", hidden, n, experts=n)


def _qwen_moe_layer(b: Builder, p: str, c: Config, d: Dims, i: int, n_experts: int) -> None:
    """Qwen2-MoE / Qwen3-MoE / Qwen3-Next feed-forward: routed experts, optional shared expert."""
    sparse_step = c.get_int("decoder_sparse_step", default=1) or 1
    mlp_only = set(c.int_list("mlp_only_layers") or [])
    if n_experts > 0 and i not in mlp_only and (i + 1) % sparse_step == 0:
        b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
        add_experts(b, p, d.hidden, c.get_int("moe_intermediate_size"), n_experts)
        shared_ff = c.get_int("shared_expert_intermediate_size", default=0)
        if shared_ff:
            add_ffn(b, p, d.hidden, shared_ff, suffix="_shexp")
            b.add(f"{p}.ffn_gate_inp_shexp.weight", d.hidden)
    else:
        add_ffn(b, p, d.hidden, c.get_int("intermediate_size"))


def llama_like(c: Config, model_type: str) -> Inventory:
    """Llama, Mistral, Mixtral, Qwen 2/3 (+MoE), Gemma 1/2/3, OLMo 2, Granite (+MoE)."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    qkv_bias = c.get_bool("attention_bias", default=model_type in {"qwen2", "qwen2_moe"})
    if model_type in {"qwen2", "qwen2_moe"}:
        qkv_bias = c.get_bool("qkv_bias", default=True)
    o_bias = c.get_bool("attention_bias", default=False) and model_type not in {
        "qwen2",
        "qwen2_moe",
    }
    qk_norm = ""
    if model_type in {"qwen3", "qwen3_moe", "gemma3", "gemma3_text"}:
        qk_norm = "head"
    elif model_type == "olmo2":
        qk_norm = "full"
    mlp_bias = c.get_bool("mlp_bias", default=False)
    n_experts = c.get_int("num_local_experts", "num_experts", default=0)
    n_used = c.get_int("num_experts_per_tok", default=0)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        if model_type != "olmo2":  # OLMo 2 normalises after the sublayers only
            b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=qkv_bias, o_bias=o_bias, qk_norm=qk_norm)
        if model_type in {"gemma2", "gemma3", "gemma3_text", "olmo2"}:
            b.norm(f"{p}.post_attention_norm", d.hidden)
        if model_type != "olmo2":
            b.norm(f"{p}.ffn_norm", d.hidden)
        if model_type in {"gemma2", "gemma3", "gemma3_text", "olmo2"}:
            b.norm(f"{p}.post_ffw_norm", d.hidden)
        if model_type in {"qwen2_moe", "qwen3_moe"}:
            _qwen_moe_layer(b, p, c, d, i, n_experts)
        elif model_type == "granitemoe" or n_experts > 0:
            b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
            add_experts(b, p, d.hidden, c.get_int("intermediate_size"), n_experts)
        else:
            add_ffn(b, p, d.hidden, c.get_int("intermediate_size"), bias=mlp_bias)
    return Inventory(model_type, tuple(b.tensors), *d.counts, n_experts, n_used)


def _phi3(c: Config, model_type: str) -> Inventory:
    """Phi-3/3.5/4: fused qkv and gate_up projections."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    ff = c.get_int("intermediate_size")
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        qkv = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim
        b.linear(f"{p}.attn_qkv", d.hidden, qkv)
        b.linear(f"{p}.attn_output", d.n_heads * d.head_dim, d.hidden)
        b.norm(f"{p}.ffn_norm", d.hidden)
        b.linear(f"{p}.ffn_up", d.hidden, 2 * ff)
        b.linear(f"{p}.ffn_down", ff, d.hidden)
    return Inventory(model_type, tuple(b.tensors), *d.counts)


def _phimoe(c: Config, model_type: str) -> Inventory:
    """Phi-3.5-MoE: biased attention, LayerNorms with bias, 16 experts, lm_head bias."""
    d = Dims.read(c, model_type)
    b = Builder()
    b.add("token_embd.weight", d.hidden, d.vocab)
    b.norm("output_norm", d.hidden, bias=True)
    if not d.tied:
        b.linear("output", d.hidden, d.vocab, bias=c.get_bool("lm_head_bias", default=False))
    bias = c.get_bool("attention_bias", default=False)
    n_experts = c.get_int("num_local_experts")
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden, bias=True)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias)
        b.norm(f"{p}.ffn_norm", d.hidden, bias=True)
        b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
        add_experts(b, p, d.hidden, c.get_int("intermediate_size"), n_experts)
    return Inventory(
        model_type, tuple(b.tensors), *d.counts, n_experts, c.get_int("num_experts_per_tok")
    )


def _cohere(c: Config, model_type: str) -> Inventory:
    """Command-R / Aya / Command R7B / Command A: parallel attention and FFN, one LayerNorm."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    bias = c.get_bool("attention_bias", default=False)
    qk_norm = c.get_bool("use_qk_norm", default=False)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias)
        if qk_norm:  # per-head LayerNorm weights, one row per head
            b.add(f"{p}.attn_q_norm.weight", d.head_dim, d.n_heads)
            b.add(f"{p}.attn_k_norm.weight", d.head_dim, d.n_kv_heads)
        add_ffn(b, p, d.hidden, c.get_int("intermediate_size"))
    return Inventory(model_type, tuple(b.tensors), *d.counts)


def _falcon(c: Config, model_type: str) -> Inventory:
    """Falcon 7B/40B/180B: fused qkv, non-gated 4h MLP, LayerNorms with bias.

    transformers ties Falcon's head to the embeddings, but every released Falcon checkpoint stores
    lm_head.weight as its own tensor (vLLM #3579, #3590) and llama.cpp converts it to output.weight,
    so the head is counted: the official totals (7.22B, 41.8B, 179.5B) include it.
    """
    d = replace(Dims.read(c, model_type), tied=False)
    new_arch = c.get_bool("new_decoder_architecture", default=False)
    if not new_arch and c.get_bool("multi_query", default=True):
        d = replace(d, n_kv_heads=1)
    bias = c.get_bool("bias", default=False)
    parallel = c.get_bool("parallel_attn", default=True)
    ff = c.get_int("ffn_hidden_size", default=4 * d.hidden)
    b = Builder()
    add_embeddings(b, d, norm_bias=True)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        if new_arch and c.get_int("num_ln_in_parallel_attn", default=2) == 2:
            b.norm(f"{p}.attn_norm", d.hidden, bias=True)
            b.norm(f"{p}.attn_norm_2", d.hidden, bias=True)
        else:
            b.norm(f"{p}.attn_norm", d.hidden, bias=True)
            if not parallel:
                b.norm(f"{p}.ffn_norm", d.hidden, bias=True)
        qkv = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim
        b.linear(f"{p}.attn_qkv", d.hidden, qkv, bias=bias)
        b.linear(f"{p}.attn_output", d.n_heads * d.head_dim, d.hidden, bias=bias)
        b.linear(f"{p}.ffn_up", d.hidden, ff, bias=bias)
        b.linear(f"{p}.ffn_down", ff, d.hidden, bias=bias)
    return Inventory(model_type, tuple(b.tensors), *d.counts)


def _starcoder2(c: Config, model_type: str) -> Inventory:
    """StarCoder2: biased attention and non-gated MLP, LayerNorms with bias."""
    d = Dims.read(c, model_type)
    bias = c.get_bool("use_bias", default=True)
    b = Builder()
    add_embeddings(b, d, norm_bias=True)
    ff = c.get_int("intermediate_size")
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden, bias=True)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias)
        b.norm(f"{p}.ffn_norm", d.hidden, bias=True)
        b.linear(f"{p}.ffn_up", d.hidden, ff, bias=bias)
        b.linear(f"{p}.ffn_down", ff, d.hidden, bias=bias)
    return Inventory(model_type, tuple(b.tensors), *d.counts)


def add_mla(b: Builder, p: str, c: Config, d: Dims) -> None:
    """Multi-head latent attention as current llama.cpp stores it: q through its low-rank pair
    when q_lora_rank is set, the shared KV latent, and kv_b_proj split for the absorbed form
    into K_b (transposed) and V_b."""
    q_lora = c.get_int("q_lora_rank", default=0)
    kv_lora = c.get_int("kv_lora_rank")
    rope = c.get_int("qk_rope_head_dim")
    nope = c.get_int("qk_nope_head_dim")
    v_dim = c.get_int("v_head_dim")
    if q_lora:
        b.linear(f"{p}.attn_q_a", d.hidden, q_lora)
        b.norm(f"{p}.attn_q_a_norm", q_lora)
        b.linear(f"{p}.attn_q_b", q_lora, d.n_heads * (nope + rope))
    else:
        b.linear(f"{p}.attn_q", d.hidden, d.n_heads * (nope + rope))
    b.linear(f"{p}.attn_kv_a_mqa", d.hidden, kv_lora + rope)
    b.norm(f"{p}.attn_kv_a_norm", kv_lora)
    b.add(f"{p}.attn_k_b.weight", nope, kv_lora, d.n_heads)
    b.add(f"{p}.attn_v_b.weight", kv_lora, v_dim, d.n_heads)
    b.linear(f"{p}.attn_output", d.n_heads * v_dim, d.hidden)


def add_indexer(b: Builder, p: str, c: Config, hidden: int) -> None:
    """The sparse-attention ("lightning") indexer of DeepSeek-V3.2 and GLM-5: a LayerNorm'd
    single key head, per-head queries from the q latent, and per-head weights."""
    heads, head_dim = c.get_int("index_n_heads"), c.get_int("index_head_dim")
    b.norm(f"{p}.indexer.k_norm", head_dim, bias=True)
    b.linear(f"{p}.indexer.proj", hidden, heads)
    b.linear(f"{p}.indexer.attn_k", hidden, head_dim)
    b.linear(f"{p}.indexer.attn_q_b", c.get_int("q_lora_rank"), heads * head_dim)


def deepseek(c: Config, model_type: str) -> Inventory:
    """DeepSeek V2/V3/V3.2 (and Kimi K2): multi-head latent attention, shared + routed experts.

    V3.2 adds a sparse-attention ("lightning") indexer to every layer, and llama.cpp's converter
    keeps its next-token-prediction layer (blk.<n_layers>, with its own embedding and head); for
    V2/V3 the converter drops that layer.
    """
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    n_routed = c.get_int("n_routed_experts", default=0)
    n_shared = c.get_int("n_shared_experts", default=0)
    moe_ff = c.get_int("moe_intermediate_size", default=0)
    first_dense = c.get_int("first_k_dense_replace", default=0)
    freq = c.get_int("moe_layer_freq", default=1) or 1
    score_bias = model_type == "deepseek_v3" or c.get_str("topk_method") == "noaux_tc"
    indexer = model_type == "deepseek_v32"
    n_mtp = c.get_int("num_nextn_predict_layers", default=0) if indexer else 0
    for i in range(d.n_layers + n_mtp):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_mla(b, p, c, d)
        b.norm(f"{p}.ffn_norm", d.hidden)
        if indexer:
            add_indexer(b, p, c, d.hidden)
        if n_routed and i >= first_dense and i % freq == 0:
            b.linear(f"{p}.ffn_gate_inp", d.hidden, n_routed)
            if score_bias:
                b.add(f"{p}.exp_probs_b.bias", n_routed)
            add_experts(b, p, d.hidden, moe_ff, n_routed)
            if n_shared:
                add_ffn(b, p, d.hidden, moe_ff * n_shared, suffix="_shexp")
        else:
            add_ffn(b, p, d.hidden, c.get_int("intermediate_size"))
        if i >= d.n_layers:  # the checkpoint's MTP layer: its own embedding and head
            b.add(f"{p}.nextn.embed_tokens.weight", d.hidden, d.vocab)
            b.norm(f"{p}.nextn.enorm", d.hidden)
            b.norm(f"{p}.nextn.hnorm", d.hidden)
            b.linear(f"{p}.nextn.eh_proj", 2 * d.hidden, d.hidden)
            b.norm(f"{p}.nextn.shared_head_norm", d.hidden)
            b.add(f"{p}.nextn.shared_head_head.weight", d.hidden, d.vocab)
    n_used = c.get_int("num_experts_per_tok", default=0)
    # convert_hf_to_gguf writes MLA as MQA: one KV head of kv_lora_rank + rope dims.
    return Inventory(
        model_type, tuple(b.tensors), d.n_layers, d.n_heads, 1, n_routed, n_used,
        n_blocks=d.n_layers + n_mtp,
    )  # fmt: skip


def _gpt_oss(c: Config, model_type: str) -> Inventory:
    """gpt-oss: biased attention with per-head sinks, biased experts and router."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    n_experts = c.get_int("num_local_experts", "num_experts")
    ff = c.get_int("intermediate_size")
    bias = c.get_bool("attention_bias", default=True)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias)
        b.add(f"{p}.attn_sinks.weight", d.n_heads)
        b.norm(f"{p}.post_attention_norm", d.hidden)
        b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts, bias=True)
        add_experts(b, p, d.hidden, ff, n_experts, bias=True)
    return Inventory(
        model_type, tuple(b.tensors), *d.counts, n_experts, c.get_int("num_experts_per_tok")
    )


def _qwen3_next(c: Config, model_type: str) -> Inventory:
    """Qwen3-Next, Qwen3.5 and Qwen3.6 (dense and MoE): Gated DeltaNet layers with a gated
    full-attention layer every `full_attention_interval`, and next-token-prediction layers.

    llama.cpp's converter keeps the checkpoint's MTP layers (blk.<n_layers>...) unless told
    --no-mtp; the loader skips them unless MTP speculative decoding is on. Qwen3-Next's config
    does not say how many there are: its checkpoints hold one.
    """
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    layer_types = c.str_list("layer_types")
    interval = c.get_int("full_attention_interval", default=4) or 4
    k_heads = c.get_int("linear_num_key_heads")
    v_heads = c.get_int("linear_num_value_heads")
    k_dim = c.get_int("linear_key_head_dim")
    v_dim = c.get_int("linear_value_head_dim")
    kernel = c.get_int("linear_conv_kernel_dim")
    n_experts = c.get_int("num_experts", default=0)
    n_mtp = c.get_int("mtp_num_hidden_layers", default=1 if model_type == "qwen3_next" else 0)
    key_width, value_width = k_heads * k_dim, v_heads * v_dim
    full_layers = [
        layer_types[i] == "full_attention" if layer_types else (i + 1) % interval == 0
        for i in range(d.n_layers)
    ]
    for i in range(d.n_layers + n_mtp):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        b.norm(f"{p}.post_attention_norm", d.hidden)
        if i >= d.n_layers or full_layers[i]:
            add_attention(b, p, d, qk_norm="head", q_gate=True)
        elif model_type == "qwen3_next":  # fused projections, as its converter writes them
            b.linear(f"{p}.ssm_in", d.hidden, 2 * key_width + 2 * value_width)
            b.linear(f"{p}.ssm_ba", d.hidden, 2 * v_heads)
        else:
            b.linear(f"{p}.attn_qkv", d.hidden, 2 * key_width + value_width)
            b.linear(f"{p}.attn_gate", d.hidden, value_width)
            b.linear(f"{p}.ssm_beta", d.hidden, v_heads)
            b.linear(f"{p}.ssm_alpha", d.hidden, v_heads)
        if i < d.n_layers and not full_layers[i]:
            b.add(f"{p}.ssm_conv1d.weight", kernel, 2 * key_width + value_width)
            b.add(f"{p}.ssm_dt.bias", v_heads)
            b.add(f"{p}.ssm_a", v_heads)
            b.norm(f"{p}.ssm_norm", v_dim)
            b.linear(f"{p}.ssm_out", value_width, d.hidden)
        _qwen_moe_layer(b, p, c, d, min(i, d.n_layers - 1), n_experts)
        if i >= d.n_layers:
            b.linear(f"{p}.nextn.eh_proj", 2 * d.hidden, d.hidden)
            b.norm(f"{p}.nextn.enorm", d.hidden)
            b.norm(f"{p}.nextn.hnorm", d.hidden)
            b.norm(f"{p}.nextn.shared_head_norm", d.hidden)
    conv = (kernel - 1) * (2 * key_width + value_width)
    recurrent = CacheLayer("recurrent", r_size=conv, s_size=k_dim * value_width)
    cache = tuple(d.full_layer if f else recurrent for f in full_layers)
    n_used = c.get_int("num_experts_per_tok", default=0)
    return Inventory(
        model_type, tuple(b.tensors), *d.counts, n_experts, n_used,
        cache=cache, n_blocks=d.n_layers + n_mtp,
    )  # fmt: skip


def _qwen3_vl(c: Config, model_type: str) -> Inventory:
    """Qwen3-VL's language model: a Qwen3 (or Qwen3-MoE) decoder, as llama.cpp's qwen3vl /
    qwen3vlmoe load it; multimodal RoPE and the vision tower's deepstack inputs add no weights."""
    base = "qwen3_moe" if c.get_int("num_experts", default=0) else "qwen3"
    return replace(llama_like(c, base), model_type=model_type)


BUILDERS = {
    "llama": llama_like,
    "mistral": llama_like,
    "mixtral": llama_like,
    "granite": llama_like,
    "granitemoe": llama_like,
    "qwen2": llama_like,
    "qwen2_moe": llama_like,
    "qwen3": llama_like,
    "qwen3_moe": llama_like,
    "gemma": llama_like,
    "gemma2": llama_like,
    "gemma3": llama_like,
    "gemma3_text": llama_like,
    "olmo2": llama_like,
    "phi3": _phi3,
    "phi3_v": _phi3,  # Phi-3.5-vision: a Phi-3 decoder; the CLIP tower is counted as an encoder
    "phi4mm": _phi3,  # Phi-4-multimodal: a Phi-4-mini decoder; encoders and LoRAs apart
    "phimoe": _phimoe,
    "cohere": _cohere,
    "cohere2": _cohere,
    "falcon": _falcon,
    "starcoder2": _starcoder2,
    "deepseek_v2": deepseek,
    "deepseek_v3": deepseek,
    "deepseek_v32": deepseek,
    "kimi_k2": deepseek,
    "gpt_oss": _gpt_oss,
    "qwen3_next": _qwen3_next,
    "qwen3_vl": _qwen3_vl,
    "qwen3_vl_text": _qwen3_vl,
    "qwen3_vl_moe": _qwen3_vl,
    "qwen3_vl_moe_text": _qwen3_vl,
    "qwen3_5": _qwen3_next,
    "qwen3_5_text": _qwen3_next,
    "qwen3_5_moe": _qwen3_next,
    "qwen3_5_moe_text": _qwen3_next,
}

# Sliding-window layouts llama.cpp applies (load_swa_pattern defaults); other types cache fully.
SWA_PATTERN = {"gemma2": 2, "gemma3": 6, "gemma3_text": 6, "cohere2": 4, "gpt_oss": 2}


def _swa_layers(c: Config, model_type: str, n_layers: int) -> list[bool]:
    """Which layers use the sliding window: config layer_types, else llama.cpp's pattern."""
    layer_types = c.str_list("layer_types")
    if layer_types and len(layer_types) >= n_layers:
        return [t == "sliding_attention" for t in layer_types[:n_layers]]
    n = c.get_int("sliding_window_pattern", default=SWA_PATTERN[model_type])
    return [n == 0 or i % n < n - 1 for i in range(n_layers)]


def _cache_layers(c: Config, inv: Inventory) -> tuple[tuple[CacheLayer, ...], int]:
    """Per-layer cache shapes as llama.cpp allocates them, and the sliding window (0 = none)."""
    mt = inv.model_type
    if mt in ("deepseek_v2", "deepseek_v3", "deepseek_v32", "kimi_k2"):
        latent = c.get_int("kv_lora_rank") + c.get_int("qk_rope_head_dim")
        # V3.2's indexer keeps one more key per token and layer (index_head_dim wide, at the
        # cache's K type) in a second cache, llama_kv_cache_dsa's kv_lid.
        latent += c.get_int("index_head_dim") if mt == "deepseek_v32" else 0
        return tuple(CacheLayer("full", latent, 0) for _ in range(inv.n_layers)), 0
    head_dim = Dims.read(c, mt).head_dim
    width = inv.n_kv_heads * head_dim
    window = c.get_int("sliding_window", default=0) if mt in SWA_PATTERN else 0
    if mt == "gemma2" and not window:
        window = 4096  # llama.cpp's default for Gemma 2
    swa = _swa_layers(c, mt, inv.n_layers) if window else [False] * inv.n_layers
    return tuple(CacheLayer("swa" if s else "full", width, width) for s in swa), window


def builders() -> dict[str, Callable[[Config, str], Inventory]]:
    """Every model_type read exactly: this module's, and those of the newer architectures in
    estimator/arch_*.py (imported here, not at the top: they build on this module)."""
    if not _ALL_BUILDERS:
        from estimator import (
            arch_gemma,
            arch_glm_minimax,
            arch_hybrid,
            arch_meta_mistral,
            arch_more,
        )

        _ALL_BUILDERS.update(BUILDERS)
        for module in (arch_gemma, arch_glm_minimax, arch_hybrid, arch_meta_mistral, arch_more):
            _ALL_BUILDERS.update(module.BUILDERS)
    return _ALL_BUILDERS


_ALL_BUILDERS: dict[str, Callable[[Config, str], Inventory]] = {}


def tensor_inventory(raw_config: Mapping[str, Any]) -> Inventory:
    """Return the language model's tensors; an unknown model_type is read by the nearest
    generic shape (see _generic) and marked inexact."""
    cfg = text_config(raw_config)
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ConfigError("config.json has no model_type")
    c = Config(cfg)
    builder = builders().get(model_type)
    inv = builder(c, model_type) if builder else _generic(c)
    if not inv.cache:
        cache, window = _cache_layers(c, inv)
        inv = replace(inv, cache=cache, sliding_window=window)
    if builder is None:
        inv = replace(inv, model_type=model_type, exact=False)
    return replace(inv, cache_groups=tuple(Counter(inv.cache).items()))


def _generic(c: Config) -> Inventory:
    """A model_type we do not know yet, read by the config fields it shares with known ones:
    multi-head latent attention (kv_lora_rank) as DeepSeek V3, routed experts with their own
    width (moe_intermediate_size) as Qwen3-MoE, anything else as a Llama-style dense decoder."""
    if c.has("kv_lora_rank"):
        return deepseek(c, "deepseek_v3")
    n_experts = c.get_int("num_experts", "num_local_experts", "n_routed_experts", default=0)
    if n_experts and c.has("moe_intermediate_size"):
        return llama_like(Config({**c.data, "num_experts": n_experts}), "qwen3_moe")
    return llama_like(c, "llama")


def _report(path: str) -> int:
    """Print computed and official parameter counts for every model in a catalog TOML file."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    mismatches = 0
    for model in data.get("models", []):
        hf_id = model.get("hf_id", "?")
        try:
            inv = tensor_inventory(model["config"])
        except (ConfigError, KeyError) as exc:
            print(f"ERROR     {hf_id}: {exc}")
            mismatches += 1
            continue
        encoders = sum(
            vit_params(model["config"][e["counted_from"]])
            if e.get("counted_from")
            else e.get("params") or 0
            for e in model.get("encoders", [])
        )
        total = inv.params_total + encoders
        official = model.get("params_official")
        status = "-"
        if official is not None:
            status = "MATCH" if official == total else f"DIFF {total - official:+,}"
            mismatches += official != total
        print(
            f"{status:<10}{hf_id}: computed {total:,} (LM {inv.params_total:,}, "
            f"active {inv.params_active:,}, encoders {encoders:,}) official {official}"
            + ("" if inv.exact else " [generic fallback]")
        )
    return 1 if mismatches else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: python -m estimator.inventory CATALOG_FILE.toml [...]")
        raise SystemExit(2)
    raise SystemExit(max(_report(p) for p in sys.argv[1:]))
