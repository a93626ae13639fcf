"""Llama 4 and the Mistral 3 family, read exactly as current llama.cpp reads them.

- Llama 4 (``llama4_text``; Scout 17B-16E, Maverick 17B-128E): llama.cpp's ``llama4`` architecture
  (src/models/llama4.cpp). Layer i is a MoE layer when ``(i + 1) % interleave_moe_layer_step``
  is 0 (Scout: every layer, Maverick: every other), with one shared expert of the routed
  experts' width; the other layers have a dense FFN of ``intermediate_size_mlp`` (the converter
  swaps the two sizes). The Q/K norm is a weightless L2 norm. Attention is chunked: llama.cpp
  hard-codes an 8192-token chunk (``n_swa = 8192``, ``LLAMA_SWA_TYPE_CHUNKED``) on three layers
  of four (``load_swa_pattern(ml, 4)``; the fourth is the global NoPE layer), whatever
  ``attention_chunk_size`` says, unless ``layer_types`` makes every layer full (MobileLLM); the
  chunked layers' cache is sized like any sliding-window cache (llama-kv-cache-iswa.cpp:
  ``pad256(min(n_ctx, 8192 + n_ubatch))`` cells).
  A ``llama3`` rope scaling (Scout) makes the converter write ``rope_freqs.weight`` (head_dim / 2
  F32 factors), which llama.cpp loads with the model.
- Ministral 3 / Devstral 2 / Devstral Small 2 (``ministral3``): llama.cpp's ``mistral3``
  architecture, a Llama decoder (src/models/mistral3.cpp); YaRN and the ``llama_4_scaling_beta``
  query temperature are metadata, not tensors. Every layer caches fully.
- Mistral Small 3.1 / 3.2 and Magistral Small (``mistral3`` wrapping a ``mistral`` text model) are
  the same decoder and go through inventory.py's Llama builder.
- Mistral Small 4 (``mistral4`` inside a ``mistral3`` wrapper): llama.cpp's ``mistral4``
  architecture is its DeepSeek-2 model (src/models/models.h: ``llama_model_mistral4`` reuses
  ``llama_model_deepseek2``'s hparams and tensors), converted by conversion/mistral3.py's
  ``Mistral4Model(DeepseekV2Model)``: multi-head latent attention split into ``attn_k_b`` /
  ``attn_v_b``, routed + shared experts, no expert score bias and no MTP layer; the cache is the
  ``kv_lora_rank + qk_rope_head_dim`` latent with no V.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from estimator.config import Config, ConfigError
from estimator.inventory import (
    Builder,
    CacheLayer,
    Dims,
    Inventory,
    Tensor,
    add_attention,
    add_embeddings,
    add_experts,
    add_ffn,
    deepseek,
    llama_like,
)

# llama.cpp's chunk for Llama 4's chunked-attention layers (llama_model_llama4::load_arch_hparams).
LLAMA4_CHUNK = 8192
LLAMA4_SWA_PATTERN = 4  # three chunked layers, then one global (NoPE) layer


def _rope_type(c: Config) -> str:
    """The rope type the converter reads: rope_parameters, else rope_scaling (rope_type or type)."""
    params = c.data.get("rope_parameters") or c.data.get("rope_scaling") or {}
    if not isinstance(params, Mapping):
        raise ConfigError("rope_scaling must be an object")
    params = params.get("full_attention", params)
    rope_type = params.get("rope_type", params.get("type", ""))
    return rope_type if isinstance(rope_type, str) else ""


def _llama4(c: Config, model_type: str) -> Inventory:
    """Llama 4: chunked attention on 3 layers of 4, MoE (+ shared expert) every n-th layer."""
    d = Dims.read(c, model_type)
    b = Builder()
    if _rope_type(c).lower() == "llama3":
        b.add("rope_freqs.weight", d.head_dim // 2)
    add_embeddings(b, d)
    n_experts = c.get_int("num_local_experts")
    if n_experts == 0:
        raise ConfigError("llama4 needs experts (num_local_experts)")
    step = c.get_int("interleave_moe_layer_step", default=1)
    moe_ff = c.get_int("intermediate_size")
    dense_ff = c.get_int("intermediate_size_mlp", default=moe_ff)
    for i in range(d.n_layers):
        p = f"blk.{i}"
        b.norm(f"{p}.attn_norm", d.hidden)
        add_attention(b, p, d)
        b.norm(f"{p}.ffn_norm", d.hidden)
        if step > 0 and (i + 1) % step == 0:
            b.linear(f"{p}.ffn_gate_inp", d.hidden, n_experts)
            add_experts(b, p, d.hidden, moe_ff, n_experts)
            add_ffn(b, p, d.hidden, moe_ff, suffix="_shexp")
        else:
            add_ffn(b, p, d.hidden, dense_ff)
    width = d.n_kv_heads * d.head_dim
    layer_types = c.str_list("layer_types")
    chunked = not (layer_types and all(t == "full_attention" for t in layer_types))
    cache = tuple(
        CacheLayer(
            "swa" if chunked and i % LLAMA4_SWA_PATTERN < LLAMA4_SWA_PATTERN - 1 else "full",
            width,
            width,
        )
        for i in range(d.n_layers)
    )
    return Inventory(
        model_type,
        tuple(b.tensors),
        *d.counts,
        n_experts,
        c.get_int("num_experts_per_tok", default=1),
        cache=cache,
        sliding_window=LLAMA4_CHUNK if chunked else 0,
    )


def _ministral3(c: Config, model_type: str) -> Inventory:
    """Ministral 3 / Devstral 2: a Llama decoder that caches every layer fully."""
    inv = llama_like(c, model_type)
    full = Dims.read(c, model_type).full_layer
    return Inventory(
        model_type,
        inv.tensors,
        *(inv.n_layers, inv.n_heads, inv.n_kv_heads),
        cache=tuple(full for _ in range(inv.n_layers)),
    )


def _mistral4(c: Config, model_type: str) -> Inventory:
    """Mistral Small 4: DeepSeek-2 latent attention and experts; one latent cached per token.

    The checkpoint stores each layer's experts as one fused gate_up_proj stack, which the converter
    keeps (``merge_expert = False``) as ``ffn_gate_up_exps`` and llama.cpp loads as such
    (create_tensor_gate_up_exps in llama-model.cpp).
    """
    inv = deepseek(c, model_type)
    tensors: list[Tensor] = []
    for t in inv.tensors:
        if t.name.endswith(".ffn_gate_exps.weight"):
            n_in, ff, n = t.shape
            fused = t.name.replace("ffn_gate_exps", "ffn_gate_up_exps")
            tensors.append(Tensor(fused, (n_in, 2 * ff, n), t.experts))
        elif not t.name.endswith(".ffn_up_exps.weight"):
            tensors.append(t)
    latent = CacheLayer("full", c.get_int("kv_lora_rank") + c.get_int("qk_rope_head_dim"), 0)
    return replace(inv, tensors=tuple(tensors), cache=tuple(latent for _ in range(inv.n_layers)))


BUILDERS: dict[str, Callable[[Config, str], Inventory]] = {
    "llama4": _llama4,
    "llama4_text": _llama4,
    "ministral3": _ministral3,
    "mistral4": _mistral4,
}
