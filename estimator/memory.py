"""Everything llama.cpp allocates to run a model: weights, KV cache, compute and output buffers.

`estimate_memory(config, MemoryOptions(...))` returns every term in integer bytes. Weights, file
size (but for the tokenizer metadata, see gguf.py), KV cache and output buffer reproduce
llama.cpp's rules exactly. The compute buffer is the peak of ggml's graph allocator for one
ubatch; it has no closed form, so it is approximated by the largest of three stages, each
summing the F32 activations alive together (docs/estimator.md gives the derivation and the
measured error against llama.cpp's CPU backend):

- output: logits for every token of the ubatch plus two hidden-state buffers,
  n_ubatch x 4 x (n_vocab + 2 x n_embd) — with flash attention this is the peak of nearly every
  model, exactly as llama.cpp logs it;
- attention without flash attention: the K·Q scores of every head over every cache cell
  (n_ubatch x 4 x n_head x n_kv), the F32 mask (n_kv x n_ubatch x 4) and 5.5 hidden-state
  buffers (Q, K, V, the attention output, residuals);
- feed-forward: gate, up and SwiGLU outputs (n_ubatch x 4 x 3 x n_ff) plus two hidden-state
  buffers; for MoE the CPU's mul_mat_id keeps them per used expert, plus each expert's down
  output: n_ubatch x 4 x n_expert_used x (3 x n_ff_expert + n_embd).
With flash attention a quantized KV cache adds one hidden-state buffer, and attention-logit
soft-capping (Gemma 2) keeps the F16 mask and one more buffer alive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from estimator.config import Config, text_config
from estimator.gguf import file_bytes
from estimator.inventory import Inventory, tensor_inventory
from estimator.kv import KvCache, KvOptions, kv_cache
from estimator.mmproj import image_tokens, mmproj_bytes, mmproj_compute_bytes
from estimator.quant import FILE_TYPES, Weights, quantize
from estimator.safetensors import safetensors_bytes


@dataclass(frozen=True)
class MemoryOptions:
    file_type: str = "Q4_K_M"
    n_ctx: int = 4096
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: bool = True
    n_seq: int = 1
    unified: bool = False
    n_ubatch: int = 512
    swa_full: bool = False
    mmproj: str = "none"  # the multimodal encoder loaded beside the model: none, f16, q8_0

    def kv(self) -> KvOptions:
        return KvOptions(
            n_ctx=self.n_ctx,
            type_k=self.type_k,
            type_v=self.type_v,
            flash_attn=self.flash_attn,
            n_seq=self.n_seq,
            unified=self.unified,
            n_ubatch=self.n_ubatch,
            swa_full=self.swa_full,
        )


@dataclass(frozen=True)
class MemoryEstimate:
    params: int
    weights: Weights
    file_bytes: int
    kv: KvCache
    compute_buffer_bytes: int
    output_buffer_bytes: int
    exact: bool
    safetensors_bytes: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default=())
    key: str = ""  # config_key of the model, for the placement (plan.py)
    opts: MemoryOptions | None = None  # the options these numbers are for
    mmproj_bytes: int = 0  # the encoder file's tensors (llama.cpp --mmproj), when loaded
    mmproj_compute_bytes: int = 0  # the encoder's compute buffer for its largest input

    @property
    def weights_bytes(self) -> int:
        return self.weights.bytes

    @property
    def total_bytes(self) -> int:
        return (
            self.weights.bytes
            + self.kv.bytes
            + self.compute_buffer_bytes
            + self.output_buffer_bytes
            + self.mmproj_bytes
            + self.mmproj_compute_bytes
        )


@dataclass(frozen=True)
class Shape:
    """The config figures the buffers depend on."""

    hidden: int
    vocab: int
    ff: int  # widest feed-forward activation per token (MoE: the used experts)
    q_width: int
    softcap: float  # attention-logit soft-capping (0 = none)
    n_ctx_train: int
    per_layer_inputs: int = 0  # Gemma 3n / 4: per-layer embedding width x layers, per token


class KeyedConfig(dict[str, Any]):
    """A config that carries its canonical key, serialized once rather than on every estimate.

    Pages make hundreds of estimates per request for one config; treat it as read-only.
    """

    def __init__(self, raw_config: Mapping[str, Any]) -> None:
        super().__init__(raw_config)
        self.key = json.dumps(self, sort_keys=True)


def config_key(raw_config: Mapping[str, Any]) -> str:
    """A canonical string for caching per-config work."""
    if isinstance(raw_config, KeyedConfig):
        return raw_config.key
    return json.dumps(raw_config, sort_keys=True)


def inventory(raw_config: Mapping[str, Any]) -> Inventory:
    """The config's tensor inventory, built once per process for each config."""
    return _inventory(config_key(raw_config))


@lru_cache(maxsize=256)
def _inventory(config_json: str) -> Inventory:
    return tensor_inventory(json.loads(config_json))


@lru_cache(maxsize=256)
def shape(config_json: str) -> Shape:
    inv = _inventory(config_json)
    c = Config(text_config(json.loads(config_json)))
    hidden = c.get_int("hidden_size", "n_embd", "d_model")
    if inv.n_experts:
        # Per token: the used experts' gate, up and SwiGLU outputs plus their down outputs.
        moe_ff = c.widest_int("moe_intermediate_size", "intermediate_size")
        if inv.model_type == "nemotron_h":
            # Up and down experts (no gate), working in the latent width when there is one.
            width = c.get_int("moe_latent_size", default=0) or hidden
            ff = inv.n_experts_used * (2 * moe_ff + width) // 3
        else:
            ff = inv.n_experts_used * (3 * moe_ff + hidden) // 3
    else:
        ff = c.widest_int("intermediate_size", "ffn_hidden_size", default=4 * hidden)
    head_dim = c.get_int("head_dim", default=hidden // inv.n_heads)
    q_width = inv.n_heads * head_dim
    if c.has("kv_lora_rank"):
        # MLA (absorbed): per head the query in the latent (kv_lora + rope), the attention output
        # in the latent and its V projection (v_head_dim), alive together with the cached
        # latent's view: measured on GLM-4.7-Flash, GLM-5 and DeepSeek-V3.2 shapes.
        kv_lora, rope = c.get_int("kv_lora_rank"), c.get_int("qk_rope_head_dim")
        v_dim = c.get_int("v_head_dim", default=kv_lora)
        q_width = inv.n_heads * (3 * kv_lora + rope + v_dim) // 2
    # llama.cpp soft-caps Gemma 2's attention logits at 50 unless the GGUF says otherwise.
    default_cap = 50.0 if inv.model_type == "gemma2" else 0.0
    softcap = c.get_float("attn_logit_softcapping", default=default_cap)
    n_ctx_train = c.get_int("max_position_embeddings", default=0)
    per_layer = c.get_int("hidden_size_per_layer_input", default=0) * inv.n_layers
    return Shape(hidden, c.get_int("vocab_size"), ff, q_width, softcap, n_ctx_train, per_layer)


def compute_buffer(s: Shape, inv: Inventory, kv: KvCache, opts: MemoryOptions) -> int:
    """Approximate peak of llama.cpp's compute buffer for one ubatch (see module docstring)."""
    return max(compute_parts(s, inv, kv, opts))


def compute_parts(s: Shape, inv: Inventory, kv: KvCache, opts: MemoryOptions) -> tuple[int, int]:
    """(peak of the output stage, peak of the layers' stages): the buffer is the larger; a device
    that does not compute the logits holds only the second."""
    ub = min(opts.n_ubatch, max(kv.n_ctx, 1))
    n_kv = kv.cells_full or kv.cells_swa
    unit = ub * 4 * s.hidden  # one F32 hidden-state buffer for the ubatch
    output = ub * 4 * s.vocab + 2 * unit
    ffn = ub * 4 * 3 * s.ff + 2 * unit  # gate, up and the SwiGLU product
    if opts.flash_attn:
        attention = ub * 4 * 2 * s.q_width + 2 * unit
    else:
        # K·Q scores of every head over the cache, the F32 mask, Q/K/V/output and residuals.
        attention = ub * 4 * inv.n_heads * n_kv + n_kv * ub * 4 + 11 * unit // 2
    extra = 0
    if opts.flash_attn and (opts.type_k != "f16" or opts.type_v != "f16"):
        extra += unit  # Q converted for the quantized-cache kernel
    # Measured on llama.cpp's CPU backend: Gemma 2 (soft-capped logits) and Phi-3 within its
    # trained context keep the F16 mask and extra hidden-state buffers alive at the peak.
    if opts.flash_attn and s.softcap:
        extra += n_kv * ub * 2 + unit
    elif opts.flash_attn and inv.model_type == "phi3" and kv.n_ctx <= s.n_ctx_train:
        extra += n_kv * ub * 2 + 2 * unit
    # Gemma 3n / 4 keep the per-layer inputs alive through the graph, before and after the
    # permute that hands each layer its slice (build_inp_per_layer, project_per_layer_inputs).
    extra += 2 * ub * 4 * s.per_layer_inputs
    return output + extra, max(attention, ffn) + extra


@lru_cache(maxsize=512)
def image_tokens_of(config_json: str) -> int | None:
    """Context tokens one image takes for the model with this config_key (None: unknown)."""
    return image_tokens(json.loads(config_json)) if config_json else None


@lru_cache(maxsize=512)
def _encoder(config_json: str, file_type: str) -> tuple[int, int, str]:
    """The mmproj file's bytes and compute buffer at `file_type`, and a note when it differs
    from what was asked (no encoder llama.cpp can load; a file type its converter cannot write,
    which falls back to F16)."""
    raw = json.loads(config_json)
    size = mmproj_bytes(raw, file_type)
    if size is None and file_type != "f16":
        size = mmproj_bytes(raw, "f16")
        if size is not None:
            note = f"no {file_type} mmproj exists for this model: its F16 file is counted"
            return size, mmproj_compute_bytes(raw) or 0, note
    if size is None:
        return 0, 0, "llama.cpp has no image/audio encoder (mmproj) for this model"
    return size, mmproj_compute_bytes(raw) or 0, ""


@lru_cache(maxsize=256)
def _safetensors(config_json: str) -> dict[str, int]:
    quantization = text_config(json.loads(config_json)).get("quantization_config")
    return safetensors_bytes(
        _inventory(config_json), quantization if isinstance(quantization, dict) else None
    )


@lru_cache(maxsize=2048)
def _weights(config_json: str, file_type: str) -> tuple[Weights, int]:
    """Typed tensors and GGUF file size; they depend on the config and file type only."""
    inv = _inventory(config_json)
    weights = quantize(inv, file_type)
    return weights, file_bytes(weights, inv.model_type, shape(config_json).vocab)


def estimate_memory(raw_config: Mapping[str, Any], opts: MemoryOptions) -> MemoryEstimate:
    """Weights, file, KV cache and buffers for one model and one set of llama.cpp options."""
    if opts.file_type not in FILE_TYPES:
        raise ValueError(f"unknown quant {opts.file_type!r}; one of {', '.join(FILE_TYPES)}")
    # Weights depend on the config and quant only: computed once per process, then reused.
    key = config_key(raw_config)
    inv = _inventory(key)
    weights, gguf_bytes = _weights(key, opts.file_type)
    dims = shape(key)
    kv = kv_cache(inv, opts.kv())
    notes = []
    if not inv.exact:
        notes.append(
            f"model_type {inv.model_type!r} is not an architecture we read exactly yet: its "
            "weights and cache are estimated from the config's sizes as the nearest known "
            "shape (dense, mixture-of-experts or latent attention), not from llama.cpp's rules"
        )
    encoder, encoder_compute = 0, 0
    if opts.mmproj != "none":
        encoder, encoder_compute, note = _encoder(key, opts.mmproj)
        if note:
            notes.append(note)
    return MemoryEstimate(
        params=inv.params_total,
        weights=weights,
        file_bytes=gguf_bytes,
        kv=kv,
        compute_buffer_bytes=compute_buffer(dims, inv, kv, opts),
        output_buffer_bytes=dims.vocab * 4 * opts.n_seq,
        exact=inv.exact,
        safetensors_bytes=dict(_safetensors(key)),
        notes=tuple(notes),
        key=key,
        opts=opts,
        mmproj_bytes=encoder,
        mmproj_compute_bytes=encoder_compute,
    )


def with_file_type(
    raw_config: Mapping[str, Any], est: MemoryEstimate, file_type: str
) -> MemoryEstimate:
    """`est` with other weights: the KV cache and the buffers do not depend on the quant."""
    weights, gguf_bytes = _weights(config_key(raw_config), file_type)
    # Built directly: dataclasses.replace() costs twice as much, and a page makes 30 of these.
    return MemoryEstimate(
        params=est.params, weights=weights, file_bytes=gguf_bytes, kv=est.kv,
        compute_buffer_bytes=est.compute_buffer_bytes,
        output_buffer_bytes=est.output_buffer_bytes, exact=est.exact,
        safetensors_bytes=est.safetensors_bytes, notes=est.notes, key=est.key,
        opts=replace(est.opts, file_type=file_type) if est.opts else None,
        mmproj_bytes=est.mmproj_bytes, mmproj_compute_bytes=est.mmproj_compute_bytes,
    )  # fmt: skip
