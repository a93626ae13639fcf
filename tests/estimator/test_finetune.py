"""Fine-tuning memory (estimator/finetune.py): each part from the model's tensors by the stated
rules, exactly; sharding; the fit; the published measurements (estimator/finetune_validation);
and the command's and the API's inputs, with junk."""

from __future__ import annotations

import json
from dataclasses import replace
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from estimator import finetune_validation
from estimator.finetune import (
    CUDA_CONTEXT,
    NF4_BITS,
    Recipe,
    finetune_fit,
    finetune_memory,
    target_roots,
)
from estimator.memory import inventory
from estimator.throughput import Device
from tests.estimator import finetune_data
from tests.estimator.test_inventory import LLAMA_31_8B
from tests.estimator.test_placement import QWEN3_CONFIG

GIB = 1 << 30
N = 8_030_261_248  # Llama 3.1 8B's parameters (its model card: 8.03B)
TOKENS = 2048
H, Q, KV, FF, LAYERS, VOCAB = 4096, 4096, 1024, 14336, 32, 128256


def test_lora_on_llama_3_1_8b_part_by_part() -> None:
    """PEFT's count for r=16 on every linear layer is 41,943,040 trainable parameters."""
    m = finetune_memory(LLAMA_31_8B, Recipe())
    per_layer = 16 * ((H + Q) + 2 * (H + KV) + (Q + H) + 2 * (H + FF) + (FF + H))
    assert m.trainable_params == per_layer * LAYERS == 41_943_040
    assert m.weights_bytes == 2 * N  # BF16 base
    assert m.adapter_bytes == m.gradient_bytes == 4 * 41_943_040  # FP32 adapters, gradients
    assert m.optimizer_bytes == 8 * 41_943_040  # two FP32 moments
    # Checkpointing: every block's input, one block's saved tensors, and the loss (12 bytes
    # per vocabulary entry per token). A block with LoRA on all its matrices saves the two
    # norms' FP32 inputs, Q K V and the attention output, gate/up/activation, and the inputs
    # of its adapted matrices (the Q K V input, the attention output's copy, the MLP input,
    # the down projection's input).
    block = 8 * H + 2 * (Q + 2 * KV + Q) + 6 * FF + 2 * H + 2 * Q + 2 * H + 2 * FF
    assert block == 192_512
    assert (
        m.activation_bytes
        == (2 * H * TOKENS * LAYERS + block * TOKENS + 12 * VOCAB * TOKENS)
        == 4_083_154_944
    )
    assert m.total_bytes == 2 * N + 16 * 41_943_040 + 4_083_154_944


def test_qlora_keeps_the_block_matrices_in_nf4_and_the_rest_in_bf16() -> None:
    m = finetune_memory(LLAMA_31_8B, Recipe(method="qlora"))
    matrices = sum(
        t.n_elements for t in inventory(LLAMA_31_8B).tensors
        if t.name.startswith("blk.") and len(t.shape) == 2
    )  # fmt: skip
    assert matrices == 6_979_321_856  # 8.03B less the embeddings, the output layer, norms
    assert pytest.approx(4.127, abs=1e-3) == NF4_BITS
    assert m.weights_bytes == round(matrices * NF4_BITS / 8) + 2 * (N - matrices)
    assert round(m.weights_bytes / GIB, 2) == 5.31
    # bitsandbytes saves the input of every 4-bit matrix: as LoRA on all of them.
    assert m.activation_bytes == finetune_memory(LLAMA_31_8B, Recipe()).activation_bytes
    only_qv = finetune_memory(LLAMA_31_8B, Recipe(method="qlora", targets="q,v"))
    assert only_qv.activation_bytes == m.activation_bytes
    lora_qv = finetune_memory(LLAMA_31_8B, Recipe(targets="q,v"))
    # A frozen BF16 matrix saves no input: LoRA on q,v keeps the Q K V input only.
    assert m.activation_bytes - lora_qv.activation_bytes == (2 * Q + 2 * H + 2 * FF) * TOKENS


def test_full_fine_tuning_is_16_bytes_a_parameter_in_mixed_precision() -> None:
    m = finetune_memory(LLAMA_31_8B, Recipe(method="full"))
    assert (m.weights_bytes, m.gradient_bytes, m.optimizer_bytes) == (2 * N, 2 * N, 12 * N)
    assert m.adapter_bytes == 0 and m.trainable_params == N
    eight_bit = finetune_memory(LLAMA_31_8B, Recipe(method="full", optimizer="adamw8bit"))
    assert eight_bit.optimizer_bytes == (2 + 4) * N  # 8-bit moments and the FP32 master
    pure = finetune_memory(LLAMA_31_8B, Recipe(method="full", precision="bf16",
                                               optimizer="adamw_bf16"))  # fmt: skip
    assert pure.weights_bytes + pure.gradient_bytes + pure.optimizer_bytes == 8 * N


def test_checkpointing_and_micro_batch_scale_the_activations() -> None:
    on = finetune_memory(LLAMA_31_8B, Recipe(method="full"))
    off = finetune_memory(LLAMA_31_8B, Recipe(method="full", grad_checkpointing=False))
    full_block = 8 * H + 2 * (Q + 2 * KV + Q) + 6 * FF + 4 * H + 2 * H + 2 * Q + 2 * H + 2 * FF
    assert off.activation_bytes == (full_block * LAYERS + 12 * VOCAB) * TOKENS
    assert on.activation_bytes == (2 * H * LAYERS + full_block + 12 * VOCAB) * TOKENS
    doubled = finetune_memory(LLAMA_31_8B, Recipe(method="full", micro_batch=2))
    assert doubled.activation_bytes == 2 * on.activation_bytes


def test_fsdp_shards_the_state_and_gathers_two_blocks() -> None:
    one = finetune_memory(LLAMA_31_8B, Recipe(method="full"))
    eight = finetune_memory(LLAMA_31_8B, Recipe(method="full", n_gpus=8))
    block = sum(  # every tensor of one block
        t.n_elements for t in inventory(LLAMA_31_8B).tensors if t.name.startswith("blk.0.")
    )
    assert block == 218_112_000
    assert eight.weights_bytes == 2 * N // 8 + 4 * block
    assert (eight.gradient_bytes, eight.optimizer_bytes) == (2 * N // 8, 12 * N // 8)
    assert eight.activation_bytes == one.activation_bytes  # per GPU, micro-batch each
    zero2 = finetune_memory(LLAMA_31_8B, Recipe(method="full", n_gpus=8, sharding="zero2"))
    assert zero2.weights_bytes == 2 * N and zero2.optimizer_bytes == 12 * N // 8
    ddp = finetune_memory(LLAMA_31_8B, Recipe(method="full", n_gpus=8, sharding="ddp"))
    assert ddp.total_bytes == one.total_bytes
    offload = finetune_memory(LLAMA_31_8B, replace(Recipe(method="full", n_gpus=8),
                                                   cpu_offload=True))  # fmt: skip
    assert offload.weights_bytes == 4 * block and offload.optimizer_bytes == 0


def test_lora_on_an_moe_adapts_every_expert() -> None:
    """Qwen3-30B-A3B with PEFT's all-linear: the 128 experts' matrices of each layer too (not
    the router)."""
    m = finetune_memory(QWEN3_CONFIG, Recipe())
    attention = 16 * ((2048 + 4096) + 2 * (2048 + 512) + (4096 + 2048))
    experts = 128 * 3 * 16 * (2048 + 768)
    assert m.trainable_params == 48 * (attention + experts) == 843_841_536
    attention_only = finetune_memory(QWEN3_CONFIG, Recipe(targets="q,k,v,o"))
    assert attention_only.trainable_params == 48 * attention


def test_targets_are_checked() -> None:
    assert target_roots("all-linear") is None
    assert target_roots("q, v") == {"attn_q", "attn_q_b", "attn_qkv", "attn_v", "attn_kv_b"}
    with pytest.raises(ValueError, match="unknown: lm_head"):
        target_roots("q,lm_head")
    with pytest.raises(ValueError, match="LoRA targets must be"):
        target_roots(",")
    with pytest.raises(ValueError, match="method must be one of"):
        finetune_memory(LLAMA_31_8B, Recipe(method="dora"))


def test_fit_on_a_gpu() -> None:
    rtx_4090 = Device(24 * GIB, 1008.0, 165.2, "nvidia", "consumer")
    qlora = finetune_memory(LLAMA_31_8B, Recipe(method="qlora"))
    fit = finetune_fit(qlora, rtx_4090)
    assert fit.status == "fits" and fit.usable_bytes == 24 * GIB - CUDA_CONTEXT
    assert fit.reason == "13.8 GiB to spare"
    full = finetune_fit(finetune_memory(LLAMA_31_8B, Recipe(method="full")), rtx_4090)
    assert full.status == "no" and full.reason == (
        "needs 123 GiB, 100.0 GiB more than the 23.5 GiB usable"
    )
    tight = finetune_fit(
        finetune_memory(LLAMA_31_8B, Recipe(seq_len=4096)), rtx_4090
    )  # 23.2 GiB of 23.5
    assert tight.status == "tight"
    mac = finetune_fit(qlora, Device(64 * GIB, 400.0, None, "apple", "apple"))
    assert mac.status == "unknown"


# Published measurements.


def test_published_rows_are_well_formed() -> None:
    rows = finetune_validation.rows()
    assert len(rows) == 176
    for row in rows:
        assert row["method"] in ("lora", "qlora", "full")
        assert row["url"].startswith("https://") and float(row["measured"]) > 0
        assert row["unit"] in ("GB", "GiB")


def test_the_copied_configs_equal_the_catalog() -> None:
    """estimator/data/finetune/models.json is what `python tests/estimator/finetune_data.py`
    writes from the catalog."""
    assert finetune_validation.configs() == finetune_data.wanted()


def test_against_published_measurements() -> None:
    """The figures /methodology/#finetune and docs/finetune.md publish."""
    found = {s.framework: s for s in finetune_validation.summary()}
    every = found["all"]
    assert every.rows == 71
    assert round(100 * every.median_error, 1) == 13.1
    assert round(100 * every.within_15) == 55
    assert round(found["lit-gpt"].median_ratio, 2) == 0.91
    # An FP32 master copy is never in a pure-BF16 stack's recipe.
    for c in finetune_validation.comparisons():
        if c.framework in ("lit-gpt", "torchtune", "fsdp_qlora"):
            assert c.recipe.precision in ("bf16", "fp32")
    assert finetune_validation.not_modelled({"notes": "optimizer_in_bwd True"}) == (
        "optimizer step fused into the backward pass"
    )


# The command and the API.


def run(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("estimate", *args, "--json", stdout=out)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


@pytest.mark.django_db
def test_command_and_api_give_the_same_finetune(client: Client) -> None:
    report = run("--model", "llama-3-1-8b-instruct", "--gpu", "rtx-4090", "--finetune", "qlora",
                 "--lora-rank", "8", "--seq-len", "1024", "--micro-batch", "2",
                 "--grad-checkpointing", "off")  # fmt: skip
    body = client.get(
        "/api/v1/estimate?model=llama-3-1-8b-instruct&gpu=rtx-4090&finetune=qlora&lora_rank=8"
        "&seq_len=1024&micro_batch=2&grad_checkpointing=false"
    ).json()
    assert report["finetune"] == body["finetune"]
    ft = body["finetune"]
    assert {"weights_bytes", "adapter_bytes", "gradient_bytes", "optimizer_bytes",
            "activation_bytes", "total_bytes"} <= set(ft)  # fmt: skip
    assert ft["total_bytes"] == sum(
        ft[f"{p}_bytes"] for p in ("weights", "adapter", "gradient", "optimizer", "activation")
    )
    assert ft["trainable_params"] == 41_943_040 // 2 and ft["fit_status"] == "fits"
    assert "finetune" not in run("--model", "llama-3-1-8b-instruct")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("finetune=dora", "finetune: Input should be 'lora', 'qlora' or 'full'"),
        ("finetune=lora&lora_rank=0", "lora_rank: Input should be greater than or equal to 1"),
        ("finetune=lora&lora_rank=2000", "lora_rank: Input should be less than or equal to 1024"),
        ("finetune=lora&seq_len=nan", "seq_len: Input should be a valid integer"),
        ("finetune=lora&micro_batch=%00", "The query string contains a NUL character"),
        ("finetune=lora&lora_targets=q,lm_head", "lora_targets: LoRA targets must be"),
        ("finetune=lora&lora_targets=" + "q," * 40, "lora_targets: String should have at most"),
        ("finetune=lora&optimizer=sgd", "optimizer: Input should be 'adamw' or 'adamw8bit'"),
    ],
)
def test_api_junk_is_a_400_naming_the_field(client: Client, query: str, error: str) -> None:
    response = client.get(f"/api/v1/estimate?model=llama-3-1-8b-instruct&{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--lora-rank", "8"), "--lora-rank needs --finetune"),
        (("--finetune", "lora", "--seq-len", "8"), "--seq-len must be between 16 and 1048576"),
        (("--finetune", "lora", "--lora-targets", "x"), "--lora-targets: LoRA targets must be"),
    ],
)
def test_command_junk_is_an_error_naming_the_flag(args: tuple[str, ...], error: str) -> None:
    with pytest.raises(CommandError, match=error.replace("(", r"\(")):
        run("--model", "llama-3-1-8b-instruct", *args)


def test_docs_table_is_the_data() -> None:
    """docs/finetune.md's table is what the validation computes today."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "finetune.md").read_text()
    names = {"lit-gpt": "LitGPT", "peft": "PEFT + TRL"}
    for s in finetune_validation.summary():
        row = (
            f"| {names.get(s.framework, s.framework)} | {s.rows} | {s.median_ratio:.2f} | "
            f"{100 * s.median_error:.1f} % | {100 * s.within_15:.0f} % |"
        )
        assert row in text, row
