"""Checkpoint sizes for vLLM / Transformers: BF16, FP8 and 4-bit (AWQ / GPTQ) safetensors.

- BF16: 2 bytes per parameter.
- FP8 (e.g. llm-compressor / vLLM `fp8`): the linear layers' weights at 1 byte with one F32
  scale per output row; embeddings, output head, norms and biases stay BF16.
- INT4 AWQ / GPTQ (group size 128): linear weights packed at 4 bits, plus per group an FP16
  scale and a 4-bit zero point (packed) — 2.5 bytes per 128 weights; embeddings, output head,
  norms, biases and MoE routers stay in 16 bits.
- As released, for checkpoints published already quantized (their config's
  `quantization_config`): block-wise or per-tensor FP8 (DeepSeek V3/V3.2, Kimi K2, Qwen3 FP8,
  MiniMax, Devstral 2), MXFP4 experts (gpt-oss), and compressed-tensors INT4 packs (Kimi K2
  Thinking / K2.5: routed experts at 4 bits in groups of 32 with a BF16 scale). The modules the
  config leaves out stay BF16. This is what vLLM loads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from estimator.inventory import Inventory, Tensor

GROUP = 128


def _is_linear(name: str, shape: tuple[int, ...]) -> bool:
    return (
        len(shape) >= 2
        and name.endswith(".weight")
        and name.startswith("blk.")
        and "norm" not in name
        and "ffn_gate_inp" not in name
        and "ssm_conv1d" not in name
    )


def safetensors_bytes(
    inv: Inventory, quantization: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Bytes of the checkpoint in BF16, FP8 and INT4 (AWQ/GPTQ, group size 128), and as
    released when the config says the checkpoint is quantized ("released")."""
    bf16 = fp8 = int4 = 0
    for t in inv.tensors:
        n = t.n_elements
        bf16 += 2 * n
        if _is_linear(t.name, t.shape):
            rows = n // t.shape[0]
            fp8 += n + 4 * rows
            int4 += n // 2 + (n // GROUP) * 5 // 2
        else:
            fp8 += 2 * n
            int4 += 2 * n
    sizes = {"bf16": bf16, "fp8": fp8, "int4_awq_gptq": int4}
    released = released_bytes(inv, quantization) if quantization else None
    if released is not None:
        sizes["released"] = released
    return sizes


def _module_path(name: str) -> str:
    """A Hugging Face-style module path for a GGUF tensor name, for matching a config's list
    of modules left unquantized (e.g. "re:.*self_attn.*", "model.layers.*.mlp.router")."""
    if name.startswith("token_embd"):
        return "model.embed_tokens"
    if name.startswith("output."):
        return "lm_head"
    parts = name.split(".")
    prefix = f"model.layers.{parts[1]}." if name.startswith("blk.") else "model."
    role = parts[2] if name.startswith("blk.") else parts[0]
    if role.startswith("attn_"):
        return prefix + "self_attn." + role.removeprefix("attn_") + "_proj"
    if role == "ffn_gate_inp":
        return prefix + "mlp.gate"
    if role.endswith("_exps"):
        return prefix + "mlp.experts." + role.removeprefix("ffn_").removesuffix("_exps") + "_proj"
    if role.endswith("_shexp"):
        return prefix + "mlp.shared_experts." + role.removeprefix("ffn_").removesuffix("_shexp")
    if role.startswith("ffn_"):
        return prefix + "mlp." + role.removeprefix("ffn_") + "_proj"
    return prefix + role


def _left_out_pattern(patterns: list[str]) -> re.Pattern[str] | None:
    """One regex for a config's list of modules left unquantized: "re:" entries as written,
    others as module paths where * is one path part (and anything below them matches)."""
    parts = [
        p[3:] if p.startswith("re:") else re.escape(p).replace(r"\*", r"[^.]+") + r"(?:\..*)?"
        for p in patterns
    ]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def released_bytes(inv: Inventory, q: Mapping[str, Any]) -> int | None:
    """The checkpoint's bytes as published, for the quantization formats we know; None for
    another one (then the page shows the BF16, FP8 and INT4 sizes only)."""
    method = q.get("quant_method")
    left_out = _left_out_pattern(
        [str(p) for p in (q.get("modules_to_not_convert") or q.get("ignore") or []) if p]
    )
    group = 0
    if method == "compressed-tensors":
        groups: dict[str, Any] = q.get("config_groups") or {}
        first: dict[str, Any] = next(iter(groups.values()), {})
        weights: dict[str, Any] = first.get("weights") or {}
        if weights.get("num_bits") != 4 or weights.get("type") != "int":
            return None
        group = int(weights.get("group_size") or 0)
        if group <= 0:
            return None
    elif method not in ("fp8", "mxfp4"):
        return None
    block = q.get("weight_block_size") or []
    total = 0
    for t in inv.tensors:
        n = t.n_elements
        quantized = (
            _is_linear(t.name, t.shape)
            and not (left_out and left_out.fullmatch(_module_path(t.name)))
            and (method != "mxfp4" or t.experts > 1)
        )
        if not quantized:
            total += 2 * n
        elif method == "fp8":
            total += n + 4 * _scales(t, block)
        elif method == "mxfp4":
            total += n // 2 + n // 32  # 4-bit values and one E8M0 scale per 32
        else:
            total += n // 2 + 2 * (n // group)  # packed INT4 and a BF16 scale per group
    return total


def _scales(t: Tensor, block: list[int]) -> int:
    """F32 scales of an FP8 tensor: one per block of rows x columns, else one per tensor."""
    experts = t.experts if t.experts > 1 else 1
    if len(block) != 2:
        return experts
    cols, rows = t.shape[0], t.n_elements // t.shape[0] // experts
    return experts * math.ceil(rows / block[0]) * math.ceil(cols / block[1])
