"""Architectures read exactly as current llama.cpp reads them (see estimator/inventory.py).

Z.ai's GLM and MiniMax's models:

- glm4 (GLM-4-0414, src/models/glm4.cpp): biased q/k/v, a fused gate+up projection and
  sandwich norms around attention and the MLP.
- glm4_moe (GLM-4.5, 4.5-Air, 4.6, 4.7; src/models/glm4-moe.cpp): leading dense layers, then
  routed experts with a sigmoid router bias and one shared expert; optional per-head q/k norms.
  The text model of GLM-4.5V / 4.6V (glm4v_moe_text) converts to the same architecture.
- glm4_moe_lite (GLM-4.7-Flash): DeepSeek-V2 multi-head latent attention with GLM's MoE; the
  converter writes it as llama.cpp's deepseek2 architecture (conversion/glm.py).
- glm_moe_dsa (GLM-5, 5.1, 5.2; src/models/glm-dsa.cpp): MLA plus the DeepSeek-V3.2-style
  lightning indexer (its own K cache of index_head_dim per token); GLM-5.2 keeps the indexer
  on the "full" layers of indexer_types only, the others reuse the previous top-k.
- minimax_m2 (MiniMax-M2, M2.1, M2.5; src/models/minimax-m2.cpp): full attention with q/k
  norms over the whole projection width and 256 experts with a router bias.

Next-token-prediction (MTP / NextN) layers: the GLM converters append num_nextn_predict_layers
whole decoder blocks after the repeating layers (blk.N with N >= num_hidden_layers) plus their
eh_proj / enorm / hnorm / shared-head tensors. They are in the file and in the official parameter
totals; llama.cpp loads them only for MTP speculative decoding (load_mtp, off by default:
TENSOR_SKIP), and its main context gives them no cache. `Inventory.n_blocks` says how many
blocks the GGUF stores.
"""

from __future__ import annotations

from collections.abc import Callable

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
    add_indexer,
    add_mla,
)


def _nextn(b: Builder, p: str, hidden: int, vocab: int, *, own_head: bool) -> None:
    """The NextN wiring around an MTP block: eh_proj joins the embedding and the hidden state.
    GLM-4.5, 4.5-Air, 4.7 and 4.7-Flash also store the block's own embedding and head
    (own_head); GLM-5's share the model's. GLM-4.6's release stores none either (its total,
    356,785,898,816, is 2 x 151552 x 5120 below GLM-4.7's), which no config field tells apart."""
    b.add(f"{p}.nextn.eh_proj.weight", 2 * hidden, hidden)
    b.norm(f"{p}.nextn.enorm", hidden)
    b.norm(f"{p}.nextn.hnorm", hidden)
    b.norm(f"{p}.nextn.shared_head_norm", hidden)
    if own_head:
        b.add(f"{p}.nextn.embed_tokens.weight", hidden, vocab)
        b.add(f"{p}.nextn.shared_head_head.weight", hidden, vocab)


def _glm_moe_ffn(b: Builder, p: str, c: Config, hidden: int, n_experts: int) -> None:
    """Sigmoid-routed experts with their score-correction bias, plus the shared expert(s)."""
    moe_ff = c.get_int("moe_intermediate_size")
    b.linear(f"{p}.ffn_gate_inp", hidden, n_experts)
    b.add(f"{p}.exp_probs_b.bias", n_experts)
    add_experts(b, p, hidden, moe_ff, n_experts)
    n_shared = c.get_int("n_shared_experts", default=0)
    if n_shared:
        add_ffn(b, p, hidden, moe_ff * n_shared, suffix="_shexp")


def _glm4(c: Config, model_type: str) -> Inventory:
    """GLM-4-0414 dense: post-attention and post-MLP norms, fused gate+up (ffn_up, 2 x ff)."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    ff = c.get_int("intermediate_size")
    bias = c.get_bool("attention_bias", default=True)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias)
        b.norm(f"{p}.post_attention_norm", d.hidden)
        b.norm(f"{p}.ffn_norm", d.hidden)
        b.linear(f"{p}.ffn_up", d.hidden, 2 * ff)
        b.linear(f"{p}.ffn_down", ff, d.hidden)
        b.norm(f"{p}.post_ffw_norm", d.hidden)
    cache = d.full_cache()
    return Inventory(model_type, tuple(b.tensors), *d.counts, cache=cache)


def _glm4_moe(c: Config, model_type: str) -> Inventory:
    """GLM-4.5 / 4.6 / 4.7: biased q/k/v, optional per-head q/k norms, the pre-FFN norm stored
    as post_attention_norm, dense then MoE layers, and the MTP block(s) after the last layer."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    bias = c.get_bool("attention_bias", default=False)
    qk_norm = "head" if c.get_bool("use_qk_norm", default=False) else ""
    n_experts = c.get_int("n_routed_experts")
    first_dense = c.get_int("first_k_dense_replace", default=0)
    n_nextn = c.get_int("num_nextn_predict_layers", default=0)
    for i in range(d.n_layers + n_nextn):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias, qk_norm=qk_norm)
        b.norm(f"{p}.post_attention_norm", d.hidden)
        if i < first_dense:
            add_ffn(b, p, d.hidden, c.get_int("intermediate_size"))
        else:
            _glm_moe_ffn(b, p, c, d.hidden, n_experts)
        if i >= d.n_layers:
            _nextn(b, p, d.hidden, d.vocab, own_head=True)
    cache = d.full_cache()
    return Inventory(
        model_type,
        tuple(b.tensors),
        *d.counts,
        n_experts,
        c.get_int("num_experts_per_tok"),
        cache=cache,
        n_blocks=d.n_layers + n_nextn,
    )


def _indexer_full(c: Config, n_layers: int) -> list[bool]:
    """Layers with an indexer of their own, which are also the layers llama.cpp gives an indexer
    key cache (glm-dsa.cpp: the indexer_types the converter writes; without them, as for GLM-5
    and 5.1, every layer): indexer_types "full" (GLM-5.2), else every layer."""
    types = c.str_list("indexer_types")
    if types:
        return [t == "full" for t in types[:n_layers]]
    return [True] * n_layers


def _glm_mla(c: Config, model_type: str) -> Inventory:
    """GLM-4.7-Flash (glm4_moe_lite, llama.cpp deepseek2) and GLM-5 (glm_moe_dsa, glm-dsa):
    MLA, a dense first block(s), GLM's sigmoid-routed MoE, one MTP block after the last layer."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    dsa = model_type == "glm_moe_dsa"
    n_experts = c.get_int("n_routed_experts")
    first_dense = c.get_int("first_k_dense_replace", default=0)
    n_nextn = c.get_int("num_nextn_predict_layers", default=0)
    full_indexer = _indexer_full(c, d.n_layers) if dsa else [False] * d.n_layers
    for i in range(d.n_layers + n_nextn):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_mla(b, p, c, d)
        # The MTP block of GLM-5.2 keeps an indexer of its own (its checkpoint stores one).
        if dsa and (i >= d.n_layers or full_indexer[i]):
            add_indexer(b, p, c, d.hidden)
        b.norm(f"{p}.ffn_norm", d.hidden)
        if i < first_dense:
            add_ffn(b, p, d.hidden, c.get_int("intermediate_size"))
        else:
            _glm_moe_ffn(b, p, c, d.hidden, n_experts)
        if i >= d.n_layers:
            _nextn(b, p, d.hidden, d.vocab, own_head=not dsa)
    # One latent of kv_lora_rank + rope dims per token and no V (MLA, llama-kv-cache.cpp); the
    # indexer's K cache (llama-kv-cache-dsa.cpp: one head of index_head_dim, in the K type) on
    # the layers whose indexer llama.cpp marks full. Both are K rows of multiples of 32
    # elements, so one row of their summed width has the same bytes in every cache type.
    latent = c.get_int("kv_lora_rank") + c.get_int("qk_rope_head_dim")
    index_width = c.get_int("index_head_dim") if dsa else 0
    cache = tuple(
        CacheLayer("full", latent + (index_width if full else 0), 0) for full in full_indexer
    )
    n_used = c.get_int("num_experts_per_tok")
    return Inventory(
        model_type,
        tuple(b.tensors),
        d.n_layers,
        d.n_heads,
        1,  # the converter writes MLA as MQA: one KV head
        n_experts,
        n_used,
        cache=cache,
        n_blocks=d.n_layers + n_nextn,
    )


def _minimax_m2(c: Config, model_type: str) -> Inventory:
    """MiniMax-M2: q/k RMS norms over the whole projection width (not per head), experts with
    a router bias, no shared expert and no dense layer."""
    d = Dims.read(c, model_type)
    b = Builder()
    add_embeddings(b, d)
    n_experts = c.get_int("num_local_experts", "num_experts")
    ff = c.get_int("intermediate_size")
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qk_norm="full")
        b.norm(f"{p}.ffn_norm", d.hidden)
        b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
        add_experts(b, p, d.hidden, ff, n_experts)
        b.add(f"{p}.exp_probs_b.bias", n_experts)
    cache = d.full_cache()
    return Inventory(
        model_type,
        tuple(b.tensors),
        *d.counts,
        n_experts,
        c.get_int("num_experts_per_tok"),
        cache=cache,
    )


BUILDERS: dict[str, Callable[[Config, str], Inventory]] = {
    "glm4": _glm4,
    "glm4_moe": _glm4_moe,
    "glm4v_moe_text": _glm4_moe,  # GLM-4.5V / 4.6V: converted as glm4moe, no MTP layer
    "glm4_moe_lite": _glm_mla,
    "glm_moe_dsa": _glm_mla,
    "minimax_m2": _minimax_m2,
}
