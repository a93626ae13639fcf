"""One check for every config that gets in: it refuses what would stall or break an estimate,
and whatever it lets through can be estimated on every page without an error."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator import limits
from estimator.config import ConfigError
from estimator.estimate import estimate, max_context
from estimator.limits import check_config
from estimator.memory import MemoryOptions
from estimator.throughput import Device
from tests.estimator.test_inventory import DEEPSEEK_V3, LLAMA_31_8B

QWEN3_30B_A3B = {
    "model_type": "qwen3_moe", "hidden_size": 2048, "intermediate_size": 6144,
    "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32,
    "num_key_value_heads": 4, "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8,
    "decoder_sparse_step": 1, "mlp_only_layers": [], "vocab_size": 151936,
    "tie_word_embeddings": False,
}  # fmt: skip
RTX_4090 = Device(24 << 30, 1008.0, 165.2, "nvidia", "consumer")
M2_ULTRA = Device(192 << 30, 800.0, None, "apple", "apple")


def refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_config(config)


def test_a_real_config_passes_and_gives_its_inventory() -> None:
    assert check_config(LLAMA_31_8B).params_total == 8_030_261_248


def test_a_million_layers_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def built(*args: Any) -> None:
        raise AssertionError("the tensor inventory was built")

    monkeypatch.setattr(limits, "tensor_inventory", built)
    refused(LLAMA_31_8B | {"num_hidden_layers": 1_000_000}, "1,000,000 layers is more than")


def test_more_experts_per_token_than_experts_is_refused() -> None:
    refused(QWEN3_30B_A3B | {"num_experts_per_tok": 200}, "num_experts_per_tok must be 1 to 128")
    refused(QWEN3_30B_A3B | {"num_experts_per_tok": 0}, "num_experts_per_tok must be 1 to 128")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hidden_size": 1, "head_dim": None}, "leaves no head dimension"),
        ({"hidden_size": 0}, "hidden_size must be at least 1"),
        ({"num_attention_heads": 0}, "num_attention_heads must be at least 1"),
        ({"vocab_size": 0}, "vocab_size must be at least 1"),
        ({"intermediate_size": 0}, r"tensor blk\.0\.ffn_gate\.weight would be empty"),
        ({"num_key_value_heads": 64}, "64 key/value heads is more than 32"),
        ({"hidden_size": 1 << 30}, "hidden_size 1,073,741,824 is more than we estimate"),
        ({"max_position_embeddings": 0}, "max_position_embeddings must be at least 1"),
        ({"rope_theta": math.nan}, "not finite"),
        ({"rope_theta": math.inf}, "not finite"),
        ({"model_type": "llama\x00"}, "NUL character"),
        ({"vocab_size": 10**400}, "too large to be exact"),
        ({"hidden_size": True}, "hidden_size must be an integer"),
    ],
)
def test_configs_that_would_break_an_estimate_are_refused_with_a_reason(
    changes: dict[str, Any], message: str
) -> None:
    config = {k: v for k, v in (LLAMA_31_8B | changes).items() if v is not None}
    refused(config, message)


def test_deep_or_huge_json_is_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(50_000):
        node["x"] = {}
        node = node["x"]
    refused(LLAMA_31_8B | {"extra": deep}, "nested more than 20 levels")
    refused(LLAMA_31_8B | {"extra": list(range(30_000))}, "more than 20,000 keys and items")
    refused(LLAMA_31_8B | {"extra": "x" * 20_000}, "a string over 10,000 characters")


def test_a_layer_list_shorter_than_the_layers_is_refused() -> None:
    refused(LLAMA_31_8B | {"layer_types": ["full_attention"] * 4}, "lists 4 layers of 32")


def test_the_tensor_budget_bounds_the_work_of_one_config() -> None:
    wide = DEEPSEEK_V3 | {"num_hidden_layers": 1000}
    refused(wide, r"17,988 tensors is more than we estimate \(5,000\)")
    assert len(check_config(DEEPSEEK_V3 | {"num_hidden_layers": 270}).tensors) == 4848


def test_every_limit_is_far_beyond_released_models() -> None:
    """DeepSeek V3 (61 layers, 7168 hidden, 256 experts, ~1,100 tensors) passes with room."""
    inv = check_config(DEEPSEEK_V3)
    assert len(inv.tensors) * 4 < limits.MAX_TENSORS
    assert inv.n_layers * 8 < limits.MAX_LAYERS


SIZES = st.one_of(st.integers(0, 8), st.integers(0, 70_000), st.sampled_from([1, 2, 3, 1 << 20]))
FIELDS = (
    "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
    "intermediate_size", "num_hidden_layers", "num_experts", "num_experts_per_tok",
    "moe_intermediate_size", "max_position_embeddings", "decoder_sparse_step",
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([LLAMA_31_8B, QWEN3_30B_A3B, DEEPSEEK_V3]),
    changes=st.dictionaries(st.sampled_from(FIELDS), SIZES, max_size=4),
)
def test_what_passes_the_check_estimates_without_an_error_on_every_kind_of_device(
    base: dict[str, Any], changes: dict[str, int]
) -> None:
    config = base | changes
    try:
        check_config(config)
    except ConfigError:
        return
    for device in (RTX_4090, M2_ULTRA):
        for quant in ("Q4_K_M", "Q2_K", "F16"):
            result = estimate(config, MemoryOptions(file_type=quant, n_ctx=4096), device)
            assert result.memory.total_bytes > 0
            assert result.device is not None and result.device.grade in "ABCDEF"
        assert max_context(config, MemoryOptions(), device) >= 0
