"""What the estimator accepts: the options' ranges and the configs it will estimate.

One place for both, used by the `estimate` command, the JSON API's schema and the pages.

A config.json may come from anyone (a paste, the API, the Hub), so before any work is done on it
`check_config` proves that estimating it stays cheap and cannot fail: the JSON is small and
shallow, every number is finite and of sane size, every dimension the architecture divides by
is positive, a MoE routes to no more experts than it has, and the tensor inventory stays within
a compute budget (a page estimates ~30 quantizations of it). The bounds are far beyond any
released model (the largest have ~130 layers, hidden sizes of 18,432 and ~1,150 tensors).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from estimator.config import Config, ConfigError, text_config
from estimator.inventory import Inventory, tensor_inventory
from estimator.kv import KV_TYPES
from estimator.quant import FILE_TYPES


@dataclass(frozen=True)
class Range:
    """An integer option: its bounds, its default and what it means."""

    low: int
    high: int
    default: int
    help: str

    def check(self, name: str, value: int) -> None:
        if not self.low <= value <= self.high:
            raise ValueError(f"{name} must be between {self.low} and {self.high}, not {value}")


@dataclass(frozen=True)
class FloatRange:
    """A decimal option: its bounds, its default (None: it depends on the device) and meaning."""

    low: float
    high: float
    default: float | None
    help: str

    def check(self, name: str, value: float) -> None:
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise ValueError(f"{name} must be between {self.low:g} and {self.high:g}, not {value}")


CONTEXT = Range(1, 16_777_216, 4096, "context length in tokens (all sequences together)")
PARALLEL = Range(1, 1024, 1, "parallel sequences (llama-server -np), or users")
UBATCH = Range(1, 65536, 512, "physical batch size (-ub)")
DEPTH = Range(0, 16_777_216, 0, "tokens already in each sequence when decoding")
GPU_COUNT = Range(0, 64, 1, "GPUs of the chosen model (layers split across them); 0: CPU only")
# The machine around the GPU(s) (estimator/machine.py has the defaults and presets).
RAM_GB = Range(1, 6144, 64, "system RAM, GiB")
RAM_BANDWIDTH = FloatRange(
    1.0, 2000.0, 96.0, "system RAM bandwidth, GB/s (DDR5-6000 dual channel: 96)"
)
RESERVED_GB = FloatRange(
    0.0, 256.0, None, "GPU memory already in use per GPU, GiB (default: by device class)"
)
GPU_LIMIT_GB = FloatRange(
    1.0, 6144.0, None, "unified memory the GPU may use, GiB (Apple: iogpu.wired_limit_mb)"
)
NGL = Range(0, 1025, 0, "llama.cpp -ngl: layers on the GPU(s), the output layer counted as one")
N_CPU_MOE = Range(0, 1024, 0, "llama.cpp --n-cpu-moe: MoE experts of the first N layers in RAM")
MMPROJ = ("none", "f16", "q8_0")
QUANTS = tuple(FILE_TYPES)
KV = KV_TYPES
RUNTIMES = ("llama.cpp", "vllm")
# llama.cpp's GPU backends (the device's vendor decides which apply: throughput.BACKENDS).
GPU_BACKENDS = ("CUDA", "ROCm", "Vulkan", "Metal", "SYCL")
# Fine-tuning (estimator/finetune.py).
FINETUNE = ("lora", "qlora", "full")
LORA_RANK = Range(1, 1024, 16, "LoRA rank")
SEQ_LEN = Range(16, 1_048_576, 2048, "tokens per training sequence")
MICRO_BATCH = Range(1, 1024, 1, "sequences per GPU per step (micro-batch)")
FT_OPTIMIZERS = ("adamw", "adamw8bit")  # AdamW with FP32 moments / bitsandbytes 8-bit
# What the model page offers of the same options: a serving plan for up to 256 users on up to
# 8 GPUs (a server's worth); the API and the command take the full ranges above.
PAGE_USERS = Range(1, 256, 1, "users")
PAGE_GPU_COUNT = Range(1, 8, 1, "GPUs")

# Configs.
MAX_CONFIG_CHARS = 200_000  # a pasted config.json; real ones are 1-10 KB
MAX_JSON_DEPTH = 20  # real configs nest 3 levels (text_config > rope_scaling > lists)
MAX_JSON_ITEMS = 20_000  # keys and list items in all
MAX_STRING = 10_000  # characters in one string value
MAX_INTEGER = 1 << 53  # beyond it a JSON number is not an exact integer in most parsers
MAX_LAYERS = 1024
MAX_TENSORS = 5000  # ~4x the largest real model; ~0.4 s for every quantization of it
# Upper bounds of the dimensions the estimator multiplies and divides by.
DIMENSIONS = {
    "hidden_size": 1 << 17,
    "n_embd": 1 << 17,
    "d_model": 1 << 17,
    "num_attention_heads": 4096,
    "n_head": 4096,
    "n_heads": 4096,
    "num_key_value_heads": 4096,
    "num_kv_heads": 4096,
    "n_head_kv": 4096,
    "head_dim": 1 << 14,
    "vocab_size": 1 << 22,
    "intermediate_size": 1 << 20,
    "ffn_hidden_size": 1 << 20,
    "moe_intermediate_size": 1 << 20,
    "shared_expert_intermediate_size": 1 << 20,
    "num_local_experts": 4096,
    "num_experts": 4096,
    "n_routed_experts": 4096,
    "n_shared_experts": 64,
    "num_experts_per_tok": 4096,
    "kv_lora_rank": 1 << 16,
    "q_lora_rank": 1 << 16,
    "qk_rope_head_dim": 1 << 14,
    "qk_nope_head_dim": 1 << 14,
    "v_head_dim": 1 << 14,
    "linear_num_key_heads": 4096,
    "linear_num_value_heads": 4096,
    "linear_key_head_dim": 1 << 14,
    "linear_value_head_dim": 1 << 14,
    "linear_conv_kernel_dim": 1024,
    "max_position_embeddings": 1 << 28,
    "sliding_window": 1 << 28,
}
# Dimensions that must be at least 1 when present (a zero divides or empties a tensor).
POSITIVE = (
    "hidden_size", "n_embd", "d_model", "num_attention_heads", "n_head", "n_heads",
    "num_hidden_layers", "n_layer", "num_layers", "vocab_size", "head_dim",
    "num_key_value_heads", "num_kv_heads", "n_head_kv", "max_position_embeddings",
    "linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim",
    "linear_value_head_dim", "linear_conv_kernel_dim",
)  # fmt: skip


def check_json(value: Any, what: str = "config") -> None:
    """ConfigError unless `value` is small, shallow JSON with finite numbers and no NUL."""
    items = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # iterative: a deep structure cannot exhaust the interpreter's stack
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ConfigError(f"the {what} is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(node, Mapping):
            children = list(node.items())
        elif isinstance(node, (list, tuple)):
            children = [("", v) for v in node]
        else:
            _check_scalar(node, what)
            continue
        items += len(children)
        if items > MAX_JSON_ITEMS:
            raise ConfigError(f"the {what} has more than {MAX_JSON_ITEMS:,} keys and items")
        for key, child in children:
            if not isinstance(key, str):
                raise ConfigError(f"the {what} has a key that is not a string: {key!r}")
            _check_scalar(key, what)
            stack.append((child, depth + 1))


def _check_scalar(value: Any, what: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ConfigError(f"the {what} has a string over {MAX_STRING:,} characters")
        if "\x00" in value:
            raise ConfigError(f"the {what} has a NUL character in a string")
        return
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise ConfigError(f"the {what} has a number too large to be exact (over 2^53)")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"the {what} has a number that is not finite ({value})")
        return
    raise ConfigError(f"the {what} has a value that is not JSON: {type(value).__name__}")


def check_config(raw: Mapping[str, Any]) -> Inventory:
    """The config's tensor inventory, or ConfigError saying why it cannot be estimated."""
    check_json(raw)
    text = text_config(raw)
    c = Config(text)
    for name in POSITIVE:
        if c.has(name) and c.get_int(name) < 1:
            raise ConfigError(f"{name} must be at least 1, not {text[name]}")
    for name, high in DIMENSIONS.items():
        if c.has(name) and c.widest_int(name) > high:
            raise ConfigError(f"{name} {text[name]:,} is more than we estimate ({high:,})")
    layers = c.get_int("num_hidden_layers", "n_layer", "num_layers", default=0)
    if layers > MAX_LAYERS:
        raise ConfigError(f"{layers:,} layers is more than we estimate ({MAX_LAYERS:,})")
    hidden = c.get_int("hidden_size", "n_embd", "d_model", default=1)
    heads = c.get_int("num_attention_heads", "n_head", "n_heads", default=1)
    if not c.has("head_dim") and hidden < heads:
        raise ConfigError(
            f"hidden_size {hidden} over {heads} attention heads leaves no head dimension"
        )
    kv_heads = c.get_int("num_key_value_heads", "num_kv_heads", "n_head_kv", default=heads)
    if kv_heads > heads:
        raise ConfigError(f"{kv_heads} key/value heads is more than {heads} attention heads")
    experts = c.get_int("num_local_experts", "num_experts", "n_routed_experts", default=0)
    used = c.get_int("num_experts_per_tok", "top_k_experts", default=0)
    if experts and not 1 <= used <= experts:
        raise ConfigError(f"num_experts_per_tok must be 1 to {experts} (the experts), not {used}")
    types = c.str_list("layer_types")
    if types is not None and len(types) < layers:
        raise ConfigError(f"layer_types lists {len(types)} layers of {layers}")
    inventory = tensor_inventory(raw)
    if len(inventory.tensors) > MAX_TENSORS:
        raise ConfigError(
            f"{len(inventory.tensors):,} tensors is more than we estimate ({MAX_TENSORS:,})"
        )
    empty = next((t for t in inventory.tensors if min(t.shape) < 1), None)
    if empty is not None:
        raise ConfigError(f"tensor {empty.name} would be empty (shape {list(empty.shape)})")
    return inventory
