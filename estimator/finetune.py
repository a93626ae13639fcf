"""GPU memory to fine-tune a model: LoRA, QLoRA and full fine-tuning, per GPU, at the peak of a
training step, from the exact tensors of the model (estimator/inventory.py) and the rules of
the PyTorch training stacks (docs/finetune.md has the derivation and the sources).

State, per parameter:
- Weights. Full and LoRA: BF16 (2 bytes). QLoRA: bitsandbytes NF4 for the matrices of the
  blocks (4 bits, plus an 8-bit scale per 64 weights and an FP32 scale per 256 of those:
  4.127 bits), the embeddings, output layer and norms in BF16.
- Trainable: full, every parameter; LoRA, rank x (inputs + outputs) per target matrix (per
  expert for MoE experts).
- Mixed precision (the default; DeepSpeed, Hugging Face with bf16): full fine-tuning keeps BF16
  gradients, an FP32 master copy and FP32 AdamW moments, 2 + 2 + 4 + 8 = 16 bytes per
  parameter (ZeRO's accounting; the master copy is counted with the optimizer); PEFT keeps
  adapters in FP32 with FP32 gradients and moments. Pure BF16 (LitGPT bf16-true, torchtune):
  2 + 2 + 4. 8-bit AdamW (bitsandbytes): 2 bytes of moments.

Activations, per token of seq_len x micro_batch, what autograd saves for the backward pass of a
Llama-style block (flash attention: no seq^2 scores):
- each RMSNorm upcasts its input to FP32 and saves it (4 bytes x hidden); a trainable norm
  weight also saves the normalized value;
- attention saves Q, K, V and its output; the MLP its gate, up and activated gate;
- a matrix's input is saved only when that matrix's gradient or one of its inputs' is needed:
  every matrix in full fine-tuning, LoRA's targets otherwise (a frozen matrix needs only its
  output's gradient) -- except bitsandbytes' 4-bit matmul, which saves its input for every
  quantized matrix (QLoRA);
- LoRA dropout (LitGPT's default 0.05; PEFT's default 0) saves a dropped copy and its mask of
  each target's input.
Gradient checkpointing keeps only each block's input and recomputes one block at a time. The
loss: Hugging Face's cross-entropy holds the FP32 log-softmax, its gradient and the input's
gradient at once (12 bytes x vocabulary per token); a chunked loss (LitGPT) the BF16 logits and
the FP32 log-softmax (6 bytes).

Several GPUs: FSDP (ZeRO-3) shards weights, gradients and optimizer and gathers a block at a
time (two with prefetch); ZeRO-2 shards gradients and optimizer; DDP nothing; with CPU offload
the sharded state stays in system RAM. Activations are per GPU.

Left out: the CUDA context (0.3-0.5 GiB outside PyTorch's count), the caching allocator's
reserve above what is allocated (5-30 % in the published runs), and transient buffers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from estimator.inventory import Inventory, Tensor
from estimator.memory import config_key, inventory
from estimator.throughput import Device
from estimator.units import gib

METHODS = ("lora", "qlora", "full")
OPTIMIZERS = ("adamw", "adamw8bit", "adamw_bf16", "sgd")  # moments FP32 / 8-bit / BF16 / none
MOMENT_BYTES = {"adamw": 8, "adamw8bit": 2, "adamw_bf16": 4, "sgd": 0}
PRECISIONS = ("mixed", "bf16", "fp32")
SHARDINGS = ("fsdp", "zero2", "ddp")
NF4_BITS = 4 + 8 / 64 + 32 / (64 * 256)  # bitsandbytes NF4 with double quantization
# LoRA targets as PEFT's target_modules / LitGPT's flags name them -> the GGUF tensor names.
TARGET_NAMES = {
    "q": ("attn_q", "attn_q_b", "attn_qkv"), "k": ("attn_k", "attn_qkv", "attn_kv_b"),
    "v": ("attn_v", "attn_qkv", "attn_kv_b"), "o": ("attn_output",),
    "gate": ("ffn_gate", "ffn_gate_exps", "ffn_gate_shexp"),
    "up": ("ffn_up", "ffn_up_exps", "ffn_up_shexp"),
    "down": ("ffn_down", "ffn_down_exps", "ffn_down_shexp"),
}  # fmt: skip
TARGET_NAMES["mlp"] = TARGET_NAMES["gate"] + TARGET_NAMES["up"] + TARGET_NAMES["down"]
ALL_LINEAR = "all-linear"  # every matrix of the blocks but MoE routers (PEFT's "all-linear")
ATTENTION_IN = ("attn_q", "attn_k", "attn_v", "attn_qkv", "attn_q_a", "attn_kv_a_mqa")
MLP_IN = ("ffn_gate", "ffn_up", "ffn_gate_exps", "ffn_up_exps", "ffn_gate_shexp", "ffn_up_shexp")
DOWN = ("ffn_down", "ffn_down_exps", "ffn_down_shexp")
NOT_MATRICES = ("ssm_conv", "ssm_a", "ssm_d", "ffn_gate_inp", "pos_embd")


@dataclass(frozen=True)
class Stack:
    """What a training stack does that the memory shows."""

    name: str
    loss_bytes: int  # per vocabulary entry per token at the loss's peak
    nf4_saves_input: bool  # bitsandbytes' MatMul4Bit saves its input; torchao's NF4 does not
    lora_dropout: bool  # a dropped copy of each LoRA target's input


STACKS = {
    "hf": Stack("Hugging Face Transformers + PEFT (+ TRL)", 12, True, False),
    "litgpt": Stack("LitGPT", 6, True, True),
    "torchtune": Stack("torchtune", 12, False, False),
}


@dataclass(frozen=True)
class Recipe:
    """How the run is set up. The defaults: Hugging Face + PEFT, mixed precision, AdamW."""

    method: str = "lora"
    lora_rank: int = 16
    targets: str = ALL_LINEAR
    seq_len: int = 2048
    micro_batch: int = 1
    grad_checkpointing: bool = True
    optimizer: str = "adamw"  # moments in FP32
    precision: str = "mixed"  # mixed (BF16 compute, FP32 master), bf16 (pure), fp32
    n_gpus: int = 1
    sharding: str = "fsdp"  # with n_gpus > 1
    cpu_offload: bool = False  # FSDP / ZeRO offload of the sharded state to system RAM
    stack: str = "hf"


MEMO_SIZE = 1024


@dataclass(frozen=True)
class FinetuneMemory:
    """Bytes per GPU at the peak of a training step."""

    weights_bytes: int  # the model's weights (NF4 + BF16 for QLoRA)
    adapter_bytes: int  # LoRA's A and B matrices (0 for full fine-tuning)
    gradient_bytes: int
    optimizer_bytes: int  # AdamW's two moments, and the FP32 master weights in mixed precision
    activation_bytes: int  # saved for the backward pass, and the loss
    trainable_params: int
    n_gpus: int

    @property
    def total_bytes(self) -> int:
        return (
            self.weights_bytes + self.adapter_bytes + self.gradient_bytes
            + self.optimizer_bytes + self.activation_bytes
        )  # fmt: skip

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total_bytes": self.total_bytes}


_MEMO: dict[tuple[str, Recipe], FinetuneMemory] = {}


def _root(t: Tensor) -> str:
    """blk.3.attn_q.weight -> attn_q; token_embd.weight -> token_embd."""
    parts = t.name.split(".")
    return parts[2] if parts[0] == "blk" else parts[0]


def _is_matrix(t: Tensor) -> bool:
    """A linear layer of a block (not a norm, router, convolution or bias): 2-D, or a stack of
    MoE experts, or MLA's per-head K/V up-projections (one matrix in the checkpoint)."""
    return (
        t.name.startswith("blk.") and t.name.endswith(".weight") and len(t.shape) in (2, 3)
        and "norm" not in t.name and not _root(t).startswith(NOT_MATRICES)
    )  # fmt: skip


def _lora_params(t: Tensor, rank: int) -> int:
    """rank x (inputs + outputs): per expert for a stack of experts; a per-head stack (MLA) as
    the one matrix it is in the checkpoint."""
    if len(t.shape) == 3 and t.experts == 1:
        return rank * (t.shape[0] + t.shape[1] * t.shape[2])
    return rank * (t.shape[0] + t.shape[1]) * t.experts


def target_roots(targets: str) -> frozenset[str] | None:
    """ "q,v" -> the tensor names LoRA adapts; None for all-linear. ValueError naming what is
    unknown."""
    names = [n.strip() for n in targets.split(",") if n.strip()]
    if names == [ALL_LINEAR]:
        return None
    unknown = [n for n in names if n not in TARGET_NAMES]
    if not names or unknown:
        raise ValueError(
            f"LoRA targets must be {ALL_LINEAR} or a comma list of {', '.join(TARGET_NAMES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return frozenset(r for n in names for r in TARGET_NAMES[n])


def _blocks(inv: Inventory) -> list[dict[str, Tensor]]:
    """Each block's tensors by name root, in order."""
    blocks: list[dict[str, Tensor]] = [{} for _ in range(inv.n_layers)]
    for t in inv.tensors:
        parts = t.name.split(".")
        if parts[0] == "blk" and int(parts[1]) < inv.n_layers and parts[-1] == "weight":
            blocks[int(parts[1])][parts[2]] = t
    return blocks


def _dims(block: dict[str, Tensor], hidden: int, n_experts_used: int) -> dict[str, int]:
    """Widths of a block's activations: Q / K / V outputs, the MLP's width as a token sees it
    (routed experts used per token plus the shared expert), routed experts per token."""

    def out(*roots: str) -> int:
        return next((block[r].shape[1] for r in roots if r in block), 0)

    q, k, v = out("attn_q", "attn_q_b"), out("attn_k"), out("attn_v")
    if "attn_qkv" in block:  # fused: Q, K and V in one matrix
        q, k, v = block["attn_qkv"].shape[1], 0, 0
    if "attn_kv_b" in block:  # MLA: K and V from the latent
        k = v = block["attn_kv_b"].shape[1] // 2
    elif "attn_kv_a_mqa" in block:  # MLA with per-head K/V stacks: full K and V per head
        k = v = q
    ff, routed = out("ffn_up", "ffn_gate"), 1
    if "ffn_up_exps" in block:
        routed = max(n_experts_used, 1)
        ff = block["ffn_up_exps"].shape[1] * routed + out("ffn_up_shexp")
    return {"q": q or hidden, "k": k, "v": v, "ff": ff, "routed": routed}


def _saved_per_token(
    block: dict[str, Tensor], hidden: int, inv: Inventory, recipe: Recipe, value: int
) -> int:
    """Bytes autograd saves per token in one block (see the module's rules)."""
    d = _dims(block, hidden, inv.n_experts_used)
    h, q, k, v, ff = hidden, d["q"], d["k"], d["v"], d["ff"]
    roots = target_roots(recipe.targets) if recipe.method != "full" else None
    stack = STACKS[recipe.stack]
    matrices = [r for r, t in block.items() if _is_matrix(t)]

    def needs_input(group: tuple[str, ...]) -> bool:
        """A matrix of `group` saves its input: trained, LoRA's target, or 4-bit in bnb."""
        if recipe.method == "full" or (recipe.method == "qlora" and stack.nf4_saves_input):
            return any(r in group for r in matrices)
        return any(r in group and (roots is None or r in roots) for r in matrices)

    full = recipe.method == "full"
    saved = 2 * 4 * h  # the two norms' FP32 inputs
    saved += value * (q + k + v + q) + 3 * value * ff  # Q K V, attention out; gate up act
    saved += 2 * value * h if full else 0  # the normalized values, for the norm weights
    saved += value * h if needs_input(ATTENTION_IN) else 0
    saved += value * q if needs_input(("attn_output",)) else 0  # a contiguous copy
    # MLP input: each routed expert gathers its own copy of a token's hidden state.
    saved += value * h * d["routed"] if needs_input(MLP_IN) else 0
    saved += value * ff if needs_input(DOWN) else 0
    if stack.lora_dropout and not full:
        saved += sum(
            (value + 1) * block[r].shape[0] for r in matrices if roots is None or r in roots
        )
    return saved


def finetune_memory(config: Mapping[str, Any], recipe: Recipe) -> FinetuneMemory:
    """Bytes per GPU to fine-tune the model of `config` as `recipe` says; ValueError naming a
    setting that is not one of the choices. Kept per config and recipe (a page asks for three
    methods and every GPU count of the rentals)."""
    key = (config_key(config), recipe)
    found = _MEMO.get(key)
    if found is None:
        if len(_MEMO) >= MEMO_SIZE:
            _MEMO.clear()
        found = _MEMO[key] = _finetune_memory(config, recipe)
    return found


def _finetune_memory(config: Mapping[str, Any], recipe: Recipe) -> FinetuneMemory:
    for name, choices in (
        ("method", METHODS), ("optimizer", OPTIMIZERS), ("precision", PRECISIONS),
        ("sharding", SHARDINGS), ("stack", tuple(STACKS)),
    ):  # fmt: skip
        if getattr(recipe, name) not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}")
    inv = inventory(config)
    total = inv.params_total
    matrices = sum(t.n_elements for t in inv.tensors if _is_matrix(t))
    value = 4 if recipe.precision == "fp32" else 2  # bytes of a weight or an activation
    moments = MOMENT_BYTES[recipe.optimizer]
    if recipe.method == "full":
        trainable = total
        weights, adapter, gradients = value * total, 0, value * total
        optimizer = moments * total + (4 * total if recipe.precision == "mixed" else 0)
    else:
        roots = target_roots(recipe.targets)
        trainable = sum(
            _lora_params(t, recipe.lora_rank)
            for t in inv.tensors
            if _is_matrix(t) and (roots is None or _root(t) in roots)
        )
        weights = value * total
        if recipe.method == "qlora":
            weights = round(matrices * NF4_BITS / 8) + value * (total - matrices)
        width = 2 if recipe.precision == "bf16" else 4  # PEFT keeps adapters in FP32
        adapter, gradients, optimizer = width * trainable, width * trainable, moments * trainable
    n = recipe.n_gpus
    shard = recipe.sharding if n > 1 else "ddp"
    blocks = _blocks(inv)
    biggest = max((sum(t.n_elements for t in b.values()) for b in blocks), default=0)
    gathered = min(2 * 2 * biggest, weights)  # a block in BF16, and the next one prefetched
    if recipe.cpu_offload and shard != "ddp":
        weights, adapter, gradients, optimizer = gathered, 0, 0, 0
    elif shard == "fsdp":
        weights = weights // n + min(gathered, weights - weights // n)
        adapter, gradients, optimizer = adapter // n, gradients // n, optimizer // n
    elif shard == "zero2":
        gradients, optimizer = gradients // n, optimizer // n
    tokens = recipe.seq_len * recipe.micro_batch
    embd = next(t for t in inv.tensors if t.name == "token_embd.weight")
    h = embd.shape[0]
    per_block = [_saved_per_token(b, h, inv, recipe, value) * tokens for b in blocks]
    if recipe.grad_checkpointing:  # block inputs, and one block recomputed at a time
        saved = value * h * tokens * len(blocks) + max(per_block, default=0)
    else:
        saved = sum(per_block)
    loss = STACKS[recipe.stack].loss_bytes * embd.shape[1] * tokens
    return FinetuneMemory(
        weights_bytes=weights, adapter_bytes=adapter, gradient_bytes=gradients,
        optimizer_bytes=optimizer, activation_bytes=saved + loss, trainable_params=trainable,
        n_gpus=n,
    )  # fmt: skip


CUDA_CONTEXT = 512 << 20  # the CUDA context and libraries, outside PyTorch's count
TIGHT = 0.9  # the caching allocator reserves 5-30 % above what is allocated


@dataclass(frozen=True)
class FinetuneFit:
    status: str  # fits, tight, no, unknown
    usable_bytes: int  # per GPU: its memory minus the CUDA context
    reason: str


def finetune_fit(memory: FinetuneMemory, device: Device) -> FinetuneFit:
    """Whether a run fits each GPU of `device`: PyTorch training on CUDA or ROCm GPUs (Apple
    silicon and CPUs train with other stacks, which these rules do not describe)."""
    if device.device_class in ("apple", "cpu"):
        return FinetuneFit("unknown", 0, "these figures are for PyTorch on NVIDIA or AMD GPUs")
    usable = device.memory_bytes - CUDA_CONTEXT
    need = memory.total_bytes
    per = " per GPU" if memory.n_gpus > 1 else ""
    if need > usable:
        return FinetuneFit(
            "no", usable,
            f"needs {gib(need)}{per}, {gib(need - usable)} more than the {gib(usable)} usable",
        )  # fmt: skip
    spare = f"{gib(usable - need)}{per} to spare"
    if need > TIGHT * usable:
        return FinetuneFit("tight", usable, f"{spare}: the allocator's reserve may not fit")
    return FinetuneFit("fits", usable, spare)


def finetune_report(
    config: Mapping[str, Any], recipe: Recipe, device: Device | None
) -> dict[str, Any]:
    """The `finetune` object of an estimate: bytes per GPU by part, and with a device its fit."""
    memory = finetune_memory(config, recipe)
    out: dict[str, Any] = memory.as_dict() | {
        "method": recipe.method, "lora_rank": recipe.lora_rank if recipe.method != "full" else None,
        "seq_len": recipe.seq_len, "micro_batch": recipe.micro_batch,
        "grad_checkpointing": recipe.grad_checkpointing, "optimizer": recipe.optimizer,
        "sharding": recipe.sharding if recipe.n_gpus > 1 else None,
    }  # fmt: skip
    if device is not None:
        f = finetune_fit(memory, device)
        out |= {"fit_status": f.status, "usable_bytes": f.usable_bytes, "fit_reason": f.reason}
    return out
