"""Per-tensor types exactly as llama.cpp's quantizer picks them (src/llama-quant.cpp).

`quantize(inventory, "Q4_K_M")` returns every tensor with its ggml type and byte size, reproducing
`llama_tensor_get_type`: the file type's default type, the output/tied-embedding rule, the
`use_more_bits` layers for attn_v / ffn_down, the Q2_K/Q3_K/Q4_K_S/IQ rules, the n_gqa and
8-expert cases, the 70B rule, and the fallback when a row is not a whole number of blocks.
Tensors the quantizer leaves alone keep the type the converter (convert_hf_to_gguf) wrote:
F32 for 1-D tensors, norms, biases, routers and conv1d, the file's float type otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

from estimator.ggml import QUANTIZED, TYPES
from estimator.inventory import Inventory, Tensor

# Matrices of these types run llama.cpp's float GEMMs, every other type its quantized kernels.
FLOAT_TYPES = frozenset({"F32", "F16", "BF16"})

# llama-quantize file type -> default ggml type (llama_ftype_get_default_type).
FILE_TYPES: Mapping[str, str] = {
    "F32": "F32",
    "BF16": "BF16",
    "F16": "F16",
    "Q8_0": "Q8_0",
    "Q6_K": "Q6_K",
    "Q5_K_M": "Q5_K",
    "Q5_K_S": "Q5_K",
    "Q5_1": "Q5_1",
    "Q5_0": "Q5_0",
    "Q4_K_M": "Q4_K",
    "Q4_K_S": "Q4_K",
    "Q4_1": "Q4_1",
    "Q4_0": "Q4_0",
    "IQ4_XS": "IQ4_XS",
    "IQ4_NL": "IQ4_NL",
    "Q3_K_L": "Q3_K",
    "Q3_K_M": "Q3_K",
    "Q3_K_S": "Q3_K",
    "IQ3_M": "IQ3_S",
    "IQ3_S": "IQ3_S",
    "IQ3_XS": "IQ3_S",
    "IQ3_XXS": "IQ3_XXS",
    "Q2_K": "Q2_K",
    "Q2_K_S": "Q2_K",
    "IQ2_M": "IQ2_S",
    "IQ2_S": "IQ2_XS",
    "IQ2_XS": "IQ2_XS",
    "IQ2_XXS": "IQ2_XXS",
    "IQ1_M": "IQ1_M",
    "IQ1_S": "IQ1_S",
    "MXFP4_MOE": "MXFP4",
}
# File types llama-quantize refuses to make without an importance matrix.
NEED_IMATRIX = {"IQ3_XXS", "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S"}
_IQ2_FAMILY = {"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"}
_FALLBACK = {
    "IQ1_S": "IQ4_NL",
    "IQ1_M": "IQ4_NL",
    "IQ2_XXS": "IQ4_NL",
    "IQ2_XS": "IQ4_NL",
    "IQ2_S": "IQ4_NL",
    "IQ3_XXS": "IQ4_NL",
    "IQ3_S": "IQ4_NL",
    "IQ4_XS": "IQ4_NL",
    "Q2_K": "Q4_0",
    "Q3_K": "Q4_0",
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}
# The llama.cpp architecture each config model_type converts to, where the rules depend on it.
_LLAMA_ARCH = {"llama": "llama", "mistral": "llama", "mixtral": "llama", "qwen2": "qwen2"}


@dataclass(frozen=True)
class TypedTensor:
    tensor: Tensor
    type: str
    bytes: int


@dataclass(frozen=True)
class Weights:
    file_type: str
    tensors: tuple[TypedTensor, ...]  # what llama.cpp loads
    # In the file but not loaded by default: next-token-prediction (MTP) layers, which llama.cpp
    # reads only for MTP speculative decoding (load_mtp; TENSOR_SKIP otherwise).
    skipped: tuple[TypedTensor, ...] = ()

    @property
    def in_file(self) -> tuple[TypedTensor, ...]:
        return self.tensors + self.skipped

    @cached_property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tensors)

    @cached_property
    def matmul_params(self) -> tuple[int, int, int, int]:
        """Weights a token multiplies: (dense quantized, dense float, routed-expert quantized,
        routed-expert float) elements of 2-D matrices, every expert counted. The input
        embedding is a row lookup unless tied to the output head; norms and biases are not
        matrix multiplications. Quantized types run llama.cpp's quantized kernels (MMQ, MMVQ);
        F16/BF16/F32 matrices its float GEMMs."""
        tied = not any(t.tensor.name == "output.weight" for t in self.tensors)
        out = [0, 0, 0, 0]
        for t in self.tensors:
            if len(t.tensor.shape) < 2 or (t.tensor.name == "token_embd.weight" and not tied):
                continue
            slot = (2 if t.tensor.experts > 1 else 0) + (t.type in FLOAT_TYPES)
            out[slot] += t.tensor.n_elements
        return out[0], out[1], out[2], out[3]

    @cached_property
    def params(self) -> int:
        return sum(t.tensor.n_elements for t in self.tensors)

    @cached_property
    def bits_per_weight(self) -> float:
        return self.bytes * 8 / self.params

    @cached_property
    def bytes_by_type(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for t in self.tensors:
            totals[t.type] = totals.get(t.type, 0) + t.bytes
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    @cached_property
    def decode_read(self) -> tuple[int, int]:
        """Bytes a decode step reads: (always, routed experts). The embedding is a row lookup,
        unless it is tied and doubles as the output head."""
        tied = not any(t.tensor.name == "output.weight" for t in self.tensors)
        always = experts = 0
        for t in self.tensors:
            if t.tensor.name == "token_embd.weight" and not tied:
                continue
            if t.tensor.experts > 1:
                experts += t.bytes
            else:
                always += t.bytes
        return always, experts

    @cached_property
    def layer_bytes(self) -> int:
        """Bytes of the repeating layers (`blk.*`), the part llama.cpp can offload per layer."""
        return sum(t.bytes for t in self.tensors if t.tensor.name.startswith("blk."))

    def type_of(self, name: str) -> str:
        return next(t.type for t in self.tensors if t.tensor.name == name)


def tensor_bytes(tensor: Tensor, type_name: str) -> int:
    """Rows x row bytes, as ggml_nbytes computes it for a contiguous tensor."""
    row = tensor.shape[0]
    rows = tensor.n_elements // row
    return rows * TYPES[type_name].row_bytes(row)


def _category(name: str) -> str:
    """tensor_get_category: broad roles by substring, in llama.cpp's order."""
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for needle, category in (
        ("attn_qkv.weight", "attn_v"),  # attention-v-like: qkv, kv_b and v count together
        ("attn_kv_b.weight", "attn_v"),
        ("attn_v.weight", "attn_v"),
        ("attn_k.weight", "attn_k"),
        ("attn_q.weight", "attn_q"),
        ("attn_output.weight", "attn_output"),
        ("ffn_up", "ffn_up"),
        ("ffn_gate", "ffn_gate"),
        ("ffn_down", "ffn_down"),
    ):
        if needle in name:
            return category
    return "other"


# Substrings of tensors llama-quantize leaves as they are (tensor_allows_quantization).
_KEEP = (
    "_norm.weight",
    "ffn_gate_inp.weight",  # expert routers
    "ffn_gate_tid2eid.weight",
    "altup",  # Gemma 3n: tiny AltUp and LAuReL matrices
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "shortconv.conv.weight",
    "indexer.k_proj.weight",  # MiniMax's sparse-attention indexer projections
    "indexer.q_proj.weight",
    "time_mix_",
    "attn_rel_b.weight",
)
_KEEP_EXACT = {"position_embd.weight", "token_types.weight"}
# Tensors convert_hf_to_gguf always writes as F32 (its list beside "1-D or *_norm.weight").
_F32 = (
    "ffn_gate_inp.",
    "ffn_gate_inp_shexp.",
    "position_embd.",
    "token_types.",
    "ssm_conv1d",
    "shortconv.conv.",
    "time_mix_first.",
    "time_mix_w1.",
    "time_mix_w2.",
    "time_mix_decay_w1.",
    "time_mix_decay_w2.",
    "time_mix_lerp_fused.",
    "altup_correct_coef.",
    "altup_predict_coef.",
    "indexer.proj.",
)


def _dims(t: Tensor) -> int:
    """ggml_n_dims: trailing dimensions of 1 do not count."""
    n = len(t.shape)
    while n > 1 and t.shape[n - 1] == 1:
        n -= 1
    return n


@lru_cache(maxsize=1 << 16)
def _traits(name: str, dims: int) -> tuple[bool, bool, str, int]:
    """What a tensor's name and rank decide, once per name: may llama-quantize change it
    (tensor_allows_quantization), does the converter write it in F32, its category
    (tensor_get_category) and its block (-1 outside the repeating layers). Pages quantize
    hundreds of models into several types: the same names come back every time."""
    may_quantize = (
        dims >= 2
        and name.endswith("weight")
        and name not in _KEEP_EXACT
        and not any(k in name for k in _KEEP)
    )
    f32 = (
        dims < 2
        or name.endswith("_norm.weight")
        or not name.endswith(".weight")
        or any(k in name for k in _F32)
    )
    block = int(name.split(".", 2)[1]) if name.startswith("blk.") else -1
    return may_quantize, f32, _category(name), block


def _use_more_bits(i_layer: int, n_layers: int) -> bool:
    return (
        i_layer < n_layers // 8
        or i_layer >= 7 * n_layers // 8
        or (i_layer - n_layers // 8) % 3 == 2
    )


@dataclass
class _State:
    """quantize_state_impl: counters advanced tensor by tensor in file order."""

    ftype: str
    arch: str
    n_layer: int
    n_expert: int
    n_gqa: float
    is_70b: bool
    tied: bool
    imatrix: bool
    n_attention_wv: int
    i_attention_wv: int = 0
    i_ffn_down: int = 0
    i_ffn_gate: int = 0
    i_ffn_up: int = 0

    def layer(self, counter: int, name: str) -> int:
        # With experts llama.cpp parses the layer from the name; otherwise it counts tensors.
        if self.n_expert > 1:
            return int(name.split(".")[1])
        return counter

    def pick(self, t: Tensor, new: str, category: str) -> str:
        f, name = self.ftype, t.name
        if category == "output" or (self.tied and category == "token_embd"):
            if f == "MXFP4_MOE" or self.arch == "falcon" or t.shape[0] % TYPES[new].block:
                return "Q8_0"
            if f in _IQ2_FAMILY | {"IQ3_XXS"}:
                return "Q5_K"
            return new if new == "Q8_0" else "Q6_K"
        if f == "MXFP4_MOE":
            return "MXFP4" if len(t.shape) > 2 and t.shape[2] > 1 else "Q8_0"
        if category == "token_embd":
            if f in {"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"}:
                return "Q2_K"
            if f in {"IQ2_S", "IQ2_M", "IQ3_XXS"}:
                return "IQ3_S"
            return new
        if f in _IQ2_FAMILY:
            if category == "attn_v":
                self.i_attention_wv += 1
                if self.n_gqa >= 4 or self.n_expert >= 4:
                    return "Q4_K"
                return "IQ3_S" if f in {"IQ2_S", "IQ2_M"} else "Q2_K"
            if self.n_expert == 8 and category == "attn_k":
                return "Q4_K"
            if category == "ffn_down":
                if self.i_ffn_down < self.n_layer // 8:
                    new = "IQ3_S" if f in {"IQ2_S", "IQ2_M"} else "Q2_K"
                self.i_ffn_down += 1
                return new
            if category == "attn_output":
                if self.n_expert == 8:
                    return "Q5_K"
                if f in {"IQ1_S", "IQ1_M"}:
                    return "IQ2_XXS"
                if f in {"IQ2_S", "IQ2_M"}:
                    return "IQ3_S"
            return new
        if category == "attn_v":
            new = self._attn_v(new)
            self.i_attention_wv += 1
            return new
        if category == "attn_k":
            if self.n_expert == 8:
                return "Q8_0"
            return {"IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ2_S"}.get(f, new)
        if category == "attn_q":
            return {"IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ2_S"}.get(f, new)
        if category == "ffn_down":
            new = self._ffn_down(new, self.layer(self.i_ffn_down, name))
            self.i_ffn_down += 1
            return new
        if category == "attn_output":
            return self._attn_output(new)
        if category in ("ffn_gate", "ffn_up"):
            counter = self.i_ffn_gate if category == "ffn_gate" else self.i_ffn_up
            i = self.layer(counter, name)
            if category == "ffn_gate":
                self.i_ffn_gate += 1
            else:
                self.i_ffn_up += 1
            if f == "IQ3_XS" and self.n_layer // 8 <= i < 7 * self.n_layer // 8:
                return "IQ3_XXS"
        return new

    def _attn_v(self, new: str) -> str:
        f, gqa4 = self.ftype, self.n_gqa >= 4
        if f == "Q2_K":
            new = "Q4_K" if gqa4 else "Q3_K"
        elif f == "Q2_K_S" and gqa4:
            new = "Q4_K"
        elif f == "IQ3_XXS":
            new = "Q4_K" if gqa4 else ("IQ3_XXS" if self.imatrix else "IQ3_S")
        elif (f in ("IQ3_XS", "IQ3_S") and gqa4) or f == "IQ3_M":
            new = "Q4_K"
        elif f == "Q3_K_M":
            new = "Q5_K" if self.i_attention_wv < 2 else "Q4_K"
        elif f == "Q3_K_L" or (f in ("IQ4_NL", "IQ4_XS") and gqa4):
            new = "Q5_K"
        elif f in ("Q4_K_M", "Q5_K_M") and _use_more_bits(self.i_attention_wv, self.n_attention_wv):
            new = "Q6_K"
        elif f == "Q4_K_S" and self.i_attention_wv < 4:
            new = "Q5_K"
        if self.is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        if self.n_expert == 8:
            new = "Q8_0"
        return new

    def _ffn_down(self, new: str, i: int) -> str:
        f, n, falcon = self.ftype, self.n_layer, self.arch == "falcon"
        if f == "Q2_K":
            return "Q3_K"
        if f == "Q2_K_S":
            return "Q4_K" if i < n // 8 else new
        if f == "IQ3_XXS" and not self.imatrix:
            return "Q4_K" if i < n // 8 else "Q3_K"
        if f == "Q3_K_M":
            if i < n // 16:
                return "Q5_K"
            return "Q4_K" if not falcon or _use_more_bits(i, n) else "Q3_K"
        if f == "IQ3_M" and (i < n // 8 or (self.n_expert == 8 and _use_more_bits(i, n))):
            return "Q4_K"
        if f == "Q3_K_L":
            return "Q4_K" if falcon else "Q5_K"
        if f == "Q4_K_M":
            if falcon:
                return "Q6_K" if i < n // 16 else "Q5_K" if _use_more_bits(i, n) else "Q4_K"
            return "Q6_K" if _use_more_bits(i, n) else new
        if i < n // 8 and f in ("IQ4_NL", "IQ4_XS") and not self.imatrix:
            return "Q5_K"
        if f == "Q5_K_M" and _use_more_bits(i, n):
            return "Q6_K"
        if f == "Q4_K_S" and not falcon and i < n // 8:
            return "Q5_K"
        if f in ("Q4_0", "Q5_0") and self.imatrix and i < n // 8:
            return "Q4_1" if f == "Q4_0" else "Q5_1"
        return new

    def _attn_output(self, new: str) -> str:
        f = self.ftype
        if self.arch == "falcon":
            return "Q4_K" if f == "Q3_K_L" else new
        if self.n_expert == 8:
            bump = {"Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M"}
            return "Q5_K" if f in bump | {"IQ3_S", "IQ3_M", "IQ4_XS"} else new
        return {
            "Q2_K": "Q3_K",
            "IQ3_XXS": "IQ3_S",
            "Q3_K_M": "Q4_K",
            "Q3_K_L": "Q5_K",
            "IQ3_M": "Q4_K",
        }.get(f, new)


def _fallback(t: Tensor, new: str) -> str:
    """tensor_type_fallback: a row that is not a whole number of blocks takes a smaller block."""
    cols = t.shape[0]
    if cols % TYPES[new].block == 0:
        return new
    fallback = _FALLBACK.get(new, new)
    return fallback if cols % TYPES[fallback].block == 0 else "F16"


def quantize(
    inv: Inventory,
    file_type: str,
    *,
    imatrix: bool | None = None,
) -> Weights:
    """Every tensor of the inventory with the type llama-quantize gives it for this file type."""
    if file_type not in FILE_TYPES:
        raise ValueError(f"unknown file type {file_type!r}; one of {', '.join(FILE_TYPES)}")
    default = FILE_TYPES[file_type]
    arch = _LLAMA_ARCH.get(inv.model_type, inv.model_type)
    n_layer = inv.blocks
    state = _State(
        ftype=file_type,
        arch=arch,
        n_layer=n_layer,
        n_expert=inv.n_experts,
        n_gqa=inv.n_heads / inv.n_kv_heads if inv.n_kv_heads else 1.0,
        is_70b=n_layer == 80
        and (arch == "qwen2" or (arch == "llama" and inv.n_heads != inv.n_kv_heads)),
        tied=not any(t.name == "output.weight" for t in inv.tensors),
        imatrix=file_type in NEED_IMATRIX if imatrix is None else imatrix,
        n_attention_wv=sum(1 for t in inv.tensors if _traits(t.name, _dims(t))[2] == "attn_v"),
    )
    loaded: list[TypedTensor] = []
    skipped: list[TypedTensor] = []
    float_type = "BF16" if file_type == "BF16" else "F16"
    for t in inv.tensors:
        may_quantize, f32, category, block = _traits(t.name, _dims(t))
        if may_quantize and default in QUANTIZED:
            new = _fallback(t, state.pick(t, default, category))
        elif may_quantize:
            new = default
        else:
            new = "F32" if f32 or file_type == "F32" else float_type
        typed = TypedTensor(t, new, tensor_bytes(t, new))
        (skipped if block >= inv.n_layers else loaded).append(typed)
    return Weights(file_type, tuple(loaded), tuple(skipped))
