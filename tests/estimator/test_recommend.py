"""The recommended quant (estimator/recommend.py) and the quality rules it follows
(estimator/quality.py): never F32, never 16-bit where Q8_0 runs, the cliff below 3 bits, and
the trade-off in words from the measured data."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from estimator import quality, recommend
from estimator.machine import machine_for
from estimator.throughput import Device
from tests.estimator.test_fit_and_speed import GIB, LLAMA_70B, RTX_3060, RTX_4090
from tests.estimator.test_inventory import LLAMA_31_8B
from tests.estimator.test_placement import QWEN3_CONFIG, catalog_config

RTX_4060_TI_16GB = Device(16 * GIB, 288.0, 22.06, "nvidia", "consumer")


def advise(config: dict, device: Device, ctx: int = 8192) -> recommend.Advice:
    return recommend.advise(config, ctx, device, machine_for(device, 1))


def test_quality_rules_from_llama_cpp_table() -> None:
    """Q8_0 and F16 (and BF16, taken as F16) are within twice F16's own divergence: the same
    quality; Q6_K is not. The cliff is at 3 bits."""
    assert pytest.approx(0.001102) == quality.SAME_QUALITY_KLD
    assert quality.same_quality("Q8_0", "F16") and quality.same_quality("Q8_0", "BF16")
    assert not quality.same_quality("Q6_K", "Q8_0")
    assert not quality.same_quality("Q8_0", "TQ1_0")  # unmeasured: never "the same"
    assert quality.of("Q5_K_M").ppl_text == "+0.9 % perplexity"
    assert quality.of("Q8_0").ppl_text == "±0 % perplexity"
    assert quality.cliff("Q3_K_M", 3.91) == ""
    assert quality.cliff("Q2_K", 2.96) == (
        "Below 3 bits per weight quality falls off a cliff: Q2_K at 2.96 bits (+56.4 % "
        "perplexity on Llama 3 8B, KLD 0.445). A smaller model at 4 bits or more is usually "
        "better."
    )
    assert not {"F32", "F16", "BF16"} & set(recommend.QUANT_LADDER)


def test_8b_with_room_gets_q8_0_not_16_bit() -> None:
    a = advise(LLAMA_31_8B, RTX_4090)
    assert a.quant == "Q8_0"
    assert a.summary == (
        "Recommended: Q8_0, ±0 % perplexity (KLD 0.0014): as good as F16 (KLD within the "
        "measurement's floor), at 53 % of its file size and 68 % faster than it. Here: fits "
        "with 13.3 GiB free; ~88 tokens/s."
    )
    assert a.gives_up == "" and a.cliff == ""


def test_moe_steps_out_of_the_cliff_with_experts_in_ram() -> None:
    """Qwen3-30B-A3B on 16 GB: Q2_K fits whole, but below the cliff; Q3_K_M with the experts
    of 3 layers in RAM runs at a usable speed, so it is the answer, and the quant above it is
    named with its cost."""
    a = advise(QWEN3_CONFIG, RTX_4060_TI_16GB)
    assert a.quant == "Q3_K_M" and a.run.fit.status == "offload"
    assert a.summary == (
        "Recommended: Q3_K_M, +10.5 % perplexity (KLD 0.1019). Here: ~89 tokens/s with the "
        "experts of 3 layers in RAM (needs 0.8 GiB of RAM)."
    )
    assert a.gives_up == (
        "The next more precise, IQ4_XS (+3.6 % perplexity): ~69 tokens/s with the experts of "
        "8 layers in RAM (needs 2.6 GiB of RAM)."
    )
    assert a.cliff == ""


def test_70b_on_one_24gb_card_warns_of_the_cliff() -> None:
    a = advise(LLAMA_70B, RTX_4090)
    assert a.quant == "IQ2_XXS" and a.run.fit.status == "tight"
    assert a.cliff.startswith("Below 3 bits per weight quality falls off a cliff: IQ2_XXS at 2.16")
    assert "+126.1 % perplexity" in a.summary
    assert a.gives_up.startswith("The next more precise, Q2_K (+56.4 % perplexity): ~7.9 tokens/s")
    on_3060 = advise(LLAMA_70B, RTX_3060)  # nothing fits whole: the fastest placement
    assert on_3060.quant == "IQ2_XXS" and on_3060.run.fit.status == "offload"


def test_native_mxfp4_is_nothing_lost() -> None:
    a = advise(catalog_config("openai", "openai/gpt-oss-120b"), RTX_4090)
    assert a.quant == "MXFP4_MOE"
    assert a.summary.startswith(
        "Recommended: MXFP4_MOE, the weights as released (MXFP4): nothing lost to quantization."
    )


def test_a_tight_q8_0_gives_way_to_a_quant_that_fits_with_its_speed_cost() -> None:
    """With Q8_0 only tightly in memory, the quant below it with headroom is the answer and
    the summary says how much faster it is than Q8_0."""
    device = Device(11 * GIB, 448.0, 40.0, "nvidia", "consumer")
    a = advise(LLAMA_31_8B, device)
    assert a.summary == (
        "Recommended: Q6_K, +0.3 % perplexity (KLD 0.0055), 25 % faster than Q8_0. Here: fits "
        "with 2.0 GiB free; ~56 tokens/s."
    )
    assert a.gives_up.startswith("The next more precise, Q8_0 (±0 % perplexity): fits tightly")


@pytest.mark.django_db
def test_the_api_and_the_command_name_the_same_recommended_quant(client: Client) -> None:
    """Every estimate with a device names its quant; the API, the command and the model
    page's quants panel agree (one user, 8K context, a 16 GB RTX 4060 Ti)."""
    query = "model=qwen3-30b-a3b&gpu=rtx-4060-ti-16gb&quant=Q4_K_M&ctx=8192"
    body = client.get(f"/api/v1/estimate?{query}").json()
    assert body["recommended_quant"] == "Q3_K_M"
    assert body["recommendation"].startswith("Recommended: Q3_K_M, +10.5 % perplexity")
    assert "recommended_quant" not in client.get("/api/v1/estimate?model=qwen3-30b-a3b").json()
    cpu = client.get("/api/v1/estimate?model=llama-3-1-8b-instruct&gpu_count=0&ram_gb=64")
    assert cpu.json()["recommended_quant"] == "Q8_0"
    out = StringIO()
    call_command(
        "estimate", "--model", "qwen3-30b-a3b", "--gpu", "rtx-4060-ti-16gb", "--ctx", "8192",
        "--json", stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue())
    assert (report["recommended_quant"], report["recommendation"]) == (
        body["recommended_quant"], body["recommendation"],
    )  # fmt: skip
    page = client.get(f"/models/qwen3-30b-a3b/?{query.partition('&')[2]}").content.decode()
    assert re.search(r">Q3_K_M</a> <small class=\"tag ok\"[^>]*>recommended</small>", page)
    assert page.count(">recommended</small>") == 1
