"""Results are judged against physics: the memory-bandwidth roofline of their own setup."""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks.plausibility import Setup, judge
from catalog.models import Hardware, Model

pytestmark = pytest.mark.django_db


@pytest.fixture
def tg128() -> Setup:
    """llama-bench's tg128 of Llama 3.1 8B Q4_K_M on one RTX 4090."""
    return Setup(
        model=Model.objects.get(slug="llama-3-1-8b-instruct"),
        quant="Q4_K_M",
        hardware=Hardware.objects.get(slug="rtx-4090"),
        hardware_count=1,
        context=128,
        depth=0,
        batch=1,
        flash_attn=True,
        kv_type="f16",
        prompt_tokens_per_s=None,
        gen_tokens_per_s=130.0,
    )


def test_a_real_rtx_4090_llama_3_8b_tg128_is_published(tg128: Setup) -> None:
    verdict = judge(tg128)
    assert verdict.published and verdict.reason == ""
    # 1008 GB/s over the bytes one step reads (Q4_K_M weights without the token embedding)
    assert round(verdict.roofline_gen, 1) == 218.3  # type: ignore[arg-type]
    assert round(verdict.estimate_gen, 1) == 130.7  # type: ignore[arg-type]


def test_5000_tokens_per_second_is_held_with_the_roofline_as_reason(tg128: Setup) -> None:
    verdict = judge(replace(tg128, gen_tokens_per_s=5000.0))
    assert not verdict.published
    assert verdict.reason == (
        "generation 5000 tokens/s is 22.9x the memory-bandwidth roofline of 218 tokens/s for "
        "this setup (held above 1.2x)"
    )


def test_just_above_the_margin_is_held_and_just_below_is_published(tg128: Setup) -> None:
    assert not judge(replace(tg128, gen_tokens_per_s=218.3 * 1.2 + 1)).published
    assert judge(replace(tg128, gen_tokens_per_s=218.3 * 1.2 - 1)).published


def test_two_gpus_are_judged_against_their_own_roofline(tg128: Setup) -> None:
    assert not judge(replace(tg128, gen_tokens_per_s=300.0)).published
    two = judge(replace(tg128, hardware_count=2, gen_tokens_per_s=300.0))
    assert two.published and round(two.roofline_gen, 1) == 436.6  # type: ignore[arg-type]


def test_a_batch_is_judged_by_its_aggregate_roofline(tg128: Setup) -> None:
    batched = replace(tg128, batch=8, context=4096, gen_tokens_per_s=900.0)
    verdict = judge(batched)
    assert verdict.published
    assert round(verdict.roofline_gen, 1) == 1746.4  # type: ignore[arg-type]
    assert not judge(replace(batched, batch=1)).published  # 900 t/s for one sequence: no


def test_a_result_far_below_the_estimate_is_held(tg128: Setup) -> None:
    verdict = judge(replace(tg128, gen_tokens_per_s=10.0))
    assert not verdict.published
    assert "0.08x our estimate of 131 tokens/s (held below 0.25x)" in verdict.reason


def test_deeper_context_lowers_the_roofline(tg128: Setup) -> None:
    deep = judge(replace(tg128, depth=4096, context=4224, gen_tokens_per_s=120.0))
    assert deep.published and round(deep.roofline_gen, 1) == 195.6  # type: ignore[arg-type]


def test_prompt_processing_is_judged_against_the_compute_roofline(tg128: Setup) -> None:
    pp = replace(tg128, context=512, gen_tokens_per_s=None, prompt_tokens_per_s=13000.0)
    verdict = judge(pp)
    assert verdict.published and round(verdict.roofline_prompt) == 40803  # type: ignore[arg-type]
    held = judge(replace(pp, prompt_tokens_per_s=200000.0))
    assert not held.published and "4.9x the compute roofline of 40803" in held.reason


def test_what_cannot_be_checked_waits_for_a_moderator(tg128: Setup) -> None:
    other = judge(replace(tg128, hardware=None))
    assert not other.published and other.reason == "device not in the catalog: it cannot be checked"
    unknown = judge(replace(tg128, quant=""))
    assert not unknown.published and "quant not recognised" in unknown.reason


def test_a_setup_that_does_not_fit_is_held(tg128: Setup) -> None:
    big = replace(tg128, model=Model.objects.get(slug="llama-3-3-70b-instruct"), quant="Q8_0")
    m1 = Hardware.objects.get(slug="apple-m1")  # 70 GiB of weights, 16 GB of memory
    verdict = judge(replace(big, hardware=m1, gen_tokens_per_s=0.5))
    assert not verdict.published
    assert verdict.reason == "our estimate says this setup does not fit in the device's memory"
