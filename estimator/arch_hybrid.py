"""Hybrid state-space / short-convolution models, read exactly as current llama.cpp reads them.

- Nemotron-H, Nemotron Nano 2 (``nemotron_h``) and Nemotron 3 (``nemotron_h`` with experts, which
  the converter writes as ``nemotron_h_moe``): src/models/nemotron-h.cpp. Each layer is one of
  Mamba-2 (``M``), attention (``*``), a squared-ReLU MLP (``-``) or a MoE block (``E``), from
  ``hybrid_override_pattern`` (or ``layers_block_type``); only attention layers cache K/V, only
  Mamba layers keep recurrent state, MLP and MoE layers keep nothing (llama-model.cpp's hybrid
  memory filters: ``!is_recr(il) && n_ff(il) == 0`` for attention). The experts have no gate
  projection; Nemotron 3 Super's experts work in a smaller latent width (``moe_latent_size``)
  and its next-token-prediction block is stored after the repeating layers (loaded only for
  MTP drafting).
- Granite 4.0 (``granitemoehybrid``): src/models/granite-hybrid.cpp. Mamba-2 or attention per
  ``layer_types``, each followed by a SwiGLU FFN: routed experts plus a shared expert (H-Small,
  H-Tiny) or a dense FFN (H-Micro, H-1B, H-350M). Without Mamba layers (Granite 4.0 Micro, 1B,
  350M) the converter writes a plain ``granite`` (or ``granitemoe``) model that caches every layer.
- LFM2 (``lfm2``) and LFM2-MoE (``lfm2_moe``): src/models/lfm2.cpp, lfm2moe.cpp. Gated short
  convolutions (``conv``) or attention with per-head Q/K norms per ``layer_types``, each followed
  by a SwiGLU FFN (LFM2-MoE: the first ``num_dense_layers`` dense, then sigmoid-routed experts with
  a score bias). The FFN width of dense LFM2 is ``block_ff_dim`` adjusted as the converter does.

Recurrent state per sequence, F32, as llama-hparams.cpp sizes it: Mamba-2 conv state
``(d_conv - 1) x (d_inner + 2 n_group d_state)`` (n_embd_r) and SSM state ``d_state x d_inner``
(n_embd_s); LFM2's conv state ``n_embd x (conv_L_cache - 1)`` and no SSM state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from estimator.config import Config, ConfigError
from estimator.inventory import (
    Builder,
    CacheLayer,
    Dims,
    Inventory,
    add_attention,
    add_embeddings,
    add_experts,
    add_ffn,
)

NONE = CacheLayer("none")


@dataclass(frozen=True)
class _Mamba2:
    """Mamba-2 mixer sizes as the converter writes them (ssm.* GGUF keys)."""

    d_conv: int
    d_inner: int
    d_state: int
    n_heads: int  # ssm.time_step_rank
    n_group: int
    conv_bias: bool

    @property
    def conv_dim(self) -> int:
        return self.d_inner + 2 * self.n_group * self.d_state

    def add(self, b: Builder, p: str, hidden: int) -> None:
        """One Mamba-2 mixer: llama_model_nemotron_h / granite_hybrid::load_arch_tensors."""
        b.linear(
            f"{p}.ssm_in", hidden, 2 * self.d_inner + 2 * self.n_group * self.d_state + self.n_heads
        )
        b.add(f"{p}.ssm_conv1d.weight", self.d_conv, self.conv_dim)
        if self.conv_bias:
            b.add(f"{p}.ssm_conv1d.bias", self.conv_dim)
        b.add(f"{p}.ssm_dt.bias", self.n_heads)
        b.add(f"{p}.ssm_a", 1, self.n_heads)
        b.add(f"{p}.ssm_d", 1, self.n_heads)
        b.add(f"{p}.ssm_norm.weight", self.d_inner // self.n_group, self.n_group)
        b.linear(f"{p}.ssm_out", self.d_inner, hidden)

    @property
    def cache(self) -> CacheLayer:
        """llama_hparams::n_embd_r / n_embd_s."""
        return CacheLayer(
            "recurrent",
            r_size=(self.d_conv - 1) * self.conv_dim,
            s_size=self.d_state * self.d_inner,
        )


# --- Nemotron-H / Nemotron Nano 2 / Nemotron 3 -------------------------------------------------


def _nemotron_kinds(c: Config, moe: bool) -> list[str]:
    """Per layer "M" (Mamba-2), "*" (attention), "-" (MLP) or "E" (MoE), as NemotronHModel reads
    the pattern: with experts only "E" is a feed-forward layer, without only "-"; every layer
    that is neither attention nor feed-forward is a Mamba layer (n_head_kv = n_ff = 0). The list
    form (layers_block_type, as transformers 5 re-saves it) names them mamba / attention / mlp /
    moe."""
    ffn = "E" if moe else "-"
    pattern = c.data.get("hybrid_override_pattern") or c.data.get("layers_block_type")
    if isinstance(pattern, str):
        return ["*" if v == "*" else ffn if v == ffn else "M" for v in pattern]
    if isinstance(pattern, list) and all(isinstance(v, str) for v in pattern):
        attention = {"attention", "full_attention"}
        return ["*" if v in attention else ffn if v in ("mlp", "moe") else "M" for v in pattern]
    raise ConfigError("nemotron_h needs hybrid_override_pattern (or layers_block_type)")


def _nemotron_h(c: Config, model_type: str) -> Inventory:
    """Nemotron-H / Nano 2 (dense MLP layers) and Nemotron 3 (MoE layers, latent experts, MTP)."""
    moe = "num_experts_per_tok" in c.data  # the converter's switch to nemotron_h_moe
    kinds = _nemotron_kinds(c, moe)
    d = Dims.read(c, model_type)
    if len(kinds) != d.n_layers:
        raise ConfigError(f"the layer pattern has {len(kinds)} layers, not {d.n_layers}")
    head_dim = c.get_int("head_dim", "attention_head_dim")
    d = Dims(d.hidden, d.n_layers, d.n_heads, d.n_kv_heads, head_dim, d.vocab, d.tied)
    mamba = _Mamba2(
        d_conv=c.get_int("conv_kernel", "mamba_d_conv"),
        d_inner=c.get_int("mamba_num_heads") * c.get_int("mamba_head_dim"),
        d_state=c.get_int("ssm_state_size", "mamba_d_state"),
        n_heads=c.get_int("mamba_num_heads"),
        n_group=c.get_int("n_groups", "mamba_n_groups"),
        conv_bias=c.get_bool("use_conv_bias", default=True),
    )
    attn_bias = c.get_bool("attention_bias", default=False)
    mlp_bias = c.get_bool("mlp_bias", default=False)
    n_experts = c.get_int("n_routed_experts", default=0) if moe else 0
    latent = c.get_int("moe_latent_size", default=0) if moe else 0
    b = Builder()
    add_embeddings(b, d)
    cache = []
    for i, kind in enumerate(kinds):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        if kind == "M":
            mamba.add(b, p, d.hidden)
            cache.append(mamba.cache)
        elif kind == "*":
            add_attention(b, p, d, qkv_bias=attn_bias, o_bias=attn_bias)
            cache.append(d.full_layer)
        elif moe:
            _nemotron_moe(b, p, c, d.hidden, n_experts, latent)
            cache.append(NONE)
        else:
            ff = c.get_int("intermediate_size")
            b.linear(f"{p}.ffn_up", d.hidden, ff, bias=mlp_bias)
            b.linear(f"{p}.ffn_down", ff, d.hidden, bias=mlp_bias)
            cache.append(NONE)
    n_mtp = c.get_int("num_nextn_predict_layers", default=0) if moe else 0
    for i in range(d.n_layers, d.n_layers + n_mtp):
        _nemotron_mtp(b, f"blk.{i}", c, d, n_experts, latent)
    return Inventory(
        model_type,
        tuple(b.tensors),
        d.n_layers,
        d.n_heads,
        d.n_kv_heads if kinds[0] == "*" else 0,  # n_gqa() of layer 0: 0 for Mamba / FFN layers
        n_experts,
        c.get_int("num_experts_per_tok", default=0) if moe else 0,
        cache=tuple(cache),
        n_blocks=d.n_layers + n_mtp if n_mtp else 0,
        attention_kv_heads=d.n_kv_heads,
    )


def _nemotron_moe(b: Builder, p: str, c: Config, hidden: int, n_experts: int, latent: int) -> None:
    """Router with score-correction bias, up/down experts (squared ReLU, no gate) working in the
    latent width when there is one, and one shared up/down expert."""
    width = latent or hidden
    ff = c.get_int("moe_intermediate_size")
    shared = c.get_int("moe_shared_expert_intermediate_size")
    b.linear(f"{p}.ffn_gate_inp", hidden, n_experts)
    b.add(f"{p}.exp_probs_b.bias", n_experts)
    if latent:
        b.linear(f"{p}.ffn_latent_down", hidden, latent)
        b.linear(f"{p}.ffn_latent_up", latent, hidden)
    b.add(f"{p}.ffn_down_exps.weight", ff, width, n_experts, experts=n_experts)
    b.add(f"{p}.ffn_up_exps.weight", width, ff, n_experts, experts=n_experts)
    b.linear(f"{p}.ffn_down_shexp", shared, hidden)
    b.linear(f"{p}.ffn_up_shexp", hidden, shared)


def _nemotron_mtp(b: Builder, p: str, c: Config, d: Dims, n_experts: int, latent: int) -> None:
    """The next-token-prediction block NemotronHModel folds after the repeating layers: input
    fusion, an attention sub-layer and a MoE sub-layer (nemotron-h.cpp, n_layer..n_layer_all)."""
    b.norm(f"{p}.nextn.enorm", d.hidden)
    b.norm(f"{p}.nextn.hnorm", d.hidden)
    b.linear(f"{p}.nextn.eh_proj", 2 * d.hidden, d.hidden)
    b.norm(f"{p}.nextn.shared_head_norm", d.hidden)
    b.norm(f"{p}.attn_norm", d.hidden)
    add_attention(b, p, d)
    b.norm(f"{p}.post_attention_norm", d.hidden)
    _nemotron_moe(b, p, c, d.hidden, n_experts, latent)


# --- Granite 4.0 -------------------------------------------------------------------------------


def _granite_attention_layers(c: Config, n_layers: int) -> set[int]:
    """GraniteHybridModel.get_attn_layers: layer_types, else indices, else period and offset."""
    layer_types = c.str_list("layer_types")
    if layer_types:
        return {i for i, t in enumerate(layer_types[:n_layers]) if t == "attention"}
    indices = c.int_list("attn_layer_indices")
    if indices:
        return set(indices)
    period = c.get_int("attn_layer_period")
    offset = c.get_int("attn_layer_offset")
    return {i for i in range(n_layers) if period and i % period == offset}


def _granitemoehybrid(c: Config, model_type: str) -> Inventory:
    """Granite 4.0: Mamba-2 or attention layers, each with a (shared-expert) MoE or dense FFN."""
    d = Dims.read(c, model_type)
    attention = _granite_attention_layers(c, d.n_layers)
    n_experts = c.get_int("num_local_experts", default=0)
    n_used = c.get_int("num_experts_per_tok", default=0)
    shared_ff = c.get_int("shared_intermediate_size", default=0)
    # GraniteModel ignores head_dim: llama.cpp's head size is n_embd / n_head.
    d = Dims(d.hidden, d.n_layers, d.n_heads, d.n_kv_heads, d.hidden // d.n_heads, d.vocab, d.tied)
    if len(attention) == d.n_layers:
        return _granite_dense(c, model_type, d, n_experts, n_used, shared_ff)
    mamba = _Mamba2(
        d_conv=c.get_int("mamba_d_conv"),
        d_inner=c.get_int("mamba_expand", default=2) * d.hidden,  # transformers default 2
        d_state=c.get_int("mamba_d_state"),
        n_heads=c.get_int("mamba_n_heads"),
        n_group=c.get_int("mamba_n_groups"),
        conv_bias=c.get_bool("mamba_conv_bias", default=True),
    )
    bias = c.get_bool("attention_bias", default=False)
    b = Builder()
    add_embeddings(b, d)
    cache = []
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        if i in attention:
            add_attention(b, p, d, qkv_bias=bias, o_bias=bias)
            cache.append(d.full_layer)
        else:
            mamba.add(b, p, d.hidden)
            cache.append(mamba.cache)
        _granite_ffn(b, p, c, d, n_experts, shared_ff)
    return Inventory(
        model_type,
        tuple(b.tensors),
        d.n_layers,
        d.n_heads,
        d.n_kv_heads if 0 in attention else 0,
        n_experts,
        n_used,
        cache=tuple(cache),
        attention_kv_heads=d.n_kv_heads,
    )


def _granite_ffn(b: Builder, p: str, c: Config, d: Dims, n_experts: int, shared_ff: int) -> None:
    """A Granite 4.0 layer's FFN: routed experts beside a shared one, or a dense MLP (the
    converter makes the shared MLP the dense FFN)."""
    b.norm(f"{p}.ffn_norm", d.hidden)
    if n_experts:
        b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
        add_experts(b, p, d.hidden, c.get_int("intermediate_size"), n_experts)
        if shared_ff:
            add_ffn(b, p, d.hidden, shared_ff, suffix="_shexp")
    else:
        add_ffn(b, p, d.hidden, shared_ff or c.get_int("intermediate_size"))


def _granite_dense(
    c: Config, model_type: str, d: Dims, n_experts: int, n_used: int, shared_ff: int
) -> Inventory:
    """A Granite 4.0 without Mamba layers: the converter writes a granite / granitemoe model
    (the shared MLP becomes the dense FFN, or the MoE's shared expert)."""
    b = Builder()
    add_embeddings(b, d)
    bias = c.get_bool("attention_bias", default=False)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d, qkv_bias=bias, o_bias=bias)
        _granite_ffn(b, p, c, d, n_experts, shared_ff)
    full = d.full_layer
    return Inventory(
        model_type,
        tuple(b.tensors),
        *d.counts,
        n_experts,
        n_used,
        cache=tuple(full for _ in range(d.n_layers)),
    )


# --- LFM2 ----------------------------------------------------------------------------------------


def _lfm2_ff(c: Config) -> int:
    """LFM2Model._add_feed_forward_length: 2/3 of block_ff_dim, times the multiplier, rounded up
    to block_multiple_of, when block_auto_adjust_ff_dim is set."""
    ff = c.get_int("block_ff_dim", "intermediate_size")
    if c.get_bool("block_auto_adjust_ff_dim", default=True):  # transformers default
        ff = int(2 * ff / 3)
        if c.data.get("block_ffn_dim_multiplier") is not None:
            ff = int(c.get_float("block_ffn_dim_multiplier", default=1.0) * ff)
        multiple = c.get_int("block_multiple_of", default=256) or 1
        ff = multiple * ((ff + multiple - 1) // multiple)
    return ff


def _lfm2_attention_layers(c: Config, n_layers: int) -> list[bool]:
    layer_types = c.str_list("layer_types")
    if layer_types:
        return [t == "full_attention" for t in layer_types[:n_layers]]
    indices = set(c.int_list("full_attn_idxs") or [])
    return [i in indices for i in range(n_layers)]


def _lfm2(c: Config, model_type: str) -> Inventory:
    """LFM2 / LFM2-MoE: short-convolution or attention layers, each followed by a SwiGLU FFN."""
    d = Dims.read(c, model_type)
    tied = c.get_bool("tie_embedding", "tie_word_embeddings", default=True)
    d = Dims(d.hidden, d.n_layers, d.n_heads, d.n_kv_heads, d.hidden // d.n_heads, d.vocab, tied)
    attention = _lfm2_attention_layers(c, d.n_layers)
    if len(attention) != d.n_layers:
        raise ConfigError(f"layer_types has {len(attention)} layers, not {d.n_layers}")
    kernel = c.get_int("conv_L_cache")
    moe = model_type == "lfm2_moe"
    n_experts = c.get_int("num_experts", "num_local_experts") if moe else 0
    n_dense = c.get_int("num_dense_layers") if moe else d.n_layers
    ff = c.get_int("intermediate_size") if moe else _lfm2_ff(c)
    b = Builder()
    b.add("token_embd.weight", d.hidden, d.vocab)
    b.norm("token_embd_norm", d.hidden)  # llama.cpp's (mis)name for LFM2's final norm
    if not d.tied:
        b.add("output.weight", d.hidden, d.vocab)
    full = d.full_layer
    conv = CacheLayer("recurrent", r_size=d.hidden * (kernel - 1))
    cache = []
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.ffn_norm", d.hidden)
        if i >= n_dense:
            b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
            add_experts(b, p, d.hidden, c.get_int("moe_intermediate_size"), n_experts)
            b.add(f"{p}.exp_probs_b.bias", n_experts)
        else:
            add_ffn(b, p, d.hidden, ff)
        b.norm(f"{p}.attn_norm", d.hidden)
        if attention[i]:
            b.norm(f"{p}.attn_q_norm", d.head_dim)
            b.norm(f"{p}.attn_k_norm", d.head_dim)
            add_attention(b, p, d)
            cache.append(full)
        else:
            b.add(f"{p}.shortconv.conv.weight", kernel, d.hidden)
            b.linear(f"{p}.shortconv.in_proj", d.hidden, 3 * d.hidden)
            b.linear(f"{p}.shortconv.out_proj", d.hidden, d.hidden)
            cache.append(conv)
    return Inventory(
        model_type,
        tuple(b.tensors),
        d.n_layers,
        d.n_heads,
        d.n_kv_heads if attention[0] else 0,
        n_experts,
        c.get_int("num_experts_per_tok") if moe else 0,
        cache=tuple(cache),
        attention_kv_heads=d.n_kv_heads,
    )


BUILDERS: dict[str, Callable[[Config, str], Inventory]] = {
    "nemotron_h": _nemotron_h,
    "granitemoehybrid": _granitemoehybrid,
    "lfm2": _lfm2,
    "lfm2_moe": _lfm2,
}
