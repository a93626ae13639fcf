"""KV cache and recurrent state exactly as llama.cpp allocates them (llama-kv-cache*.cpp).

n_ctx is padded to 256. Each attention layer stores K and V rows of n_kv_heads x head_dim
elements per cell, in the cache type (q8_0: 34 bytes per 32 elements, q4_0: 18 per 32).
Sliding-window layers get pad256(min(n_ctx_seq, window x (unified ? seqs : 1) + n_ubatch))
cells per stream unless --swa-full. MLA layers (DeepSeek, Kimi) cache one latent of
kv_lora_rank + rope dims and no V. Recurrent layers keep F32 conv + SSM state per sequence.
Without a unified cache every parallel sequence is its own stream of n_ctx_seq cells.
"""

from __future__ import annotations

from dataclasses import dataclass

from estimator.ggml import TYPES
from estimator.inventory import Inventory

KV_TYPES = ("f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl", "f32")
PAD = 256


def pad(n: int, to: int = PAD) -> int:
    return (n + to - 1) // to * to


class KvError(ValueError):
    """Options llama.cpp would refuse."""


@dataclass(frozen=True)
class KvOptions:
    n_ctx: int = 4096
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: bool = True
    n_seq: int = 1  # parallel sequences (llama-server -np)
    unified: bool = False  # --kv-unified: one cache shared by all sequences
    n_ubatch: int = 512
    swa_full: bool = False

    def validate(self) -> None:
        for name, value in (("type_k", self.type_k), ("type_v", self.type_v)):
            if value not in KV_TYPES:
                raise KvError(f"{name} must be one of {', '.join(KV_TYPES)}, got {value!r}")
        if TYPES[self.type_v.upper()].block > 1 and not self.flash_attn:
            raise KvError(
                "a quantized V cache needs flash attention (llama.cpp refuses it otherwise)"
            )
        if self.n_ctx < 1 or self.n_seq < 1 or self.n_ubatch < 1:
            raise KvError("n_ctx, n_seq and n_ubatch must be positive")


@dataclass(frozen=True)
class KvCache:
    n_ctx: int  # after padding
    cells_full: int  # per stream
    cells_swa: int  # per stream (0 without sliding-window layers)
    streams: int
    full_bytes: int
    swa_bytes: int
    recurrent_bytes: int

    @property
    def bytes(self) -> int:
        return self.full_bytes + self.swa_bytes + self.recurrent_bytes


def v_row_width(inv: Inventory, flash_attn: bool) -> int:
    """Without flash attention llama.cpp stores V transposed, every layer's V as wide as the
    widest layer's (llama-kv-cache.cpp, TAG_V_CACHE_VARIABLE: Gemma 4's sliding and global
    layers differ); 0 when each layer keeps its own width."""
    if flash_attn:
        return 0
    widths = {layer.v_width for layer, _ in inv.cache_groups if layer.v_width}
    return max(widths) if len(widths) > 1 else 0


def kv_cache(inv: Inventory, opts: KvOptions) -> KvCache:
    """Bytes of every cache buffer llama.cpp allocates for this context."""
    opts.validate()
    n_ctx = pad(opts.n_ctx)
    if opts.unified or opts.n_seq == 1:
        streams, n_ctx_seq = 1, n_ctx
    else:
        streams, n_ctx_seq = opts.n_seq, pad(n_ctx // opts.n_seq)
        n_ctx = n_ctx_seq * opts.n_seq
    seqs_in_window = opts.n_seq if opts.unified else 1
    cells_swa = 0
    if inv.sliding_window:
        cells_swa = pad(min(n_ctx_seq, inv.sliding_window * seqs_in_window + opts.n_ubatch))
        if opts.swa_full:
            cells_swa = n_ctx_seq
    k_type, v_type = TYPES[opts.type_k.upper()], TYPES[opts.type_v.upper()]
    v_rows = v_row_width(inv, opts.flash_attn)
    full = swa = recurrent = 0
    for layer, count in inv.cache_groups:
        if layer.kind == "recurrent":
            recurrent += (layer.r_size + layer.s_size) * 4 * max(1, opts.n_seq) * count
            continue
        if layer.kind == "none":
            continue
        per_cell = k_type.row_bytes(layer.k_width)
        if layer.v_width:
            per_cell += v_type.row_bytes(v_rows or layer.v_width)
        if layer.kind == "swa":
            swa += per_cell * cells_swa * streams * count
        else:
            full += per_cell * n_ctx_seq * streams * count
    has_swa = any(layer.kind == "swa" for layer, _ in inv.cache_groups)
    return KvCache(n_ctx, n_ctx_seq, cells_swa if has_swa else 0, streams, full, swa, recurrent)
