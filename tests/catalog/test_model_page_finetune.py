"""The model page's "Fine-tune it" panel: LoRA, QLoRA and full fine-tuning at the page's
settings on the chosen GPUs (estimator.finetune), the chosen method marked, the cheapest stored
offer that fits it, its controls in the URL and junk corrected, on PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from django.test import Client

from catalog.models import Model, Revision
from cloudprices.models import Offer
from estimator.finetune import Recipe, finetune_memory
from estimator.units import gib
from tests.catalog.test_model_page_machine import hx, section, text
from tests.cloudprices.test_serve import store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]
URL = "/models/llama-3-1-8b-instruct/"


def panel(client: Client, query: str = "", **headers: str) -> str:
    response = client.get(f"{URL}?{query}", headers=headers)
    assert response.status_code == 200
    return section(response.content.decode(), "finetune")


def test_three_methods_with_their_memory_and_fit_on_the_chosen_gpu(client: Client) -> None:
    config = Model.objects.get(slug="llama-3-1-8b-instruct").estimator_config
    shown = panel(client, "gpu=rtx-4090&ft=qlora&ft_seq=4096")
    words = text(shown)
    for method, label in (("lora", "LoRA (BF16 base)"), ("qlora", "QLoRA (4-bit NF4 base)"),
                          ("full", "Full fine-tuning")):  # fmt: skip
        total = finetune_memory(config, Recipe(method=method, seq_len=4096)).total_bytes
        assert f">{label}</a><br>" in shown
        assert f'<td class="num"><strong>{gib(total)}</strong></td>' in shown, label
    assert re.search(
        r'<tr class="current" aria-current="true"><th scope="row"><a [^>]*>QLoRA', shown
    )
    assert "fits 10.0 GiB to spare" in words  # QLoRA on 23.5 usable GiB
    assert "no needs 127 GiB, 104 GiB more than the 23.5 GiB usable" in words  # full


def test_the_cheapest_offer_that_fits_the_chosen_method(client: Client) -> None:
    Offer.objects.all().delete()
    store("rtx-3060-12gb", 1, "0.05")  # too small for LoRA at 2,048 tokens
    store("rtx-4090", 1, "0.34", tier="spot", provider="vast")
    store("h100-sxm", 1, "2.69")
    store("rtx-3090", 2, "0.15", tier="community", provider="vast")  # 2 x 24 GB, $0.30/h
    Revision.bump(Revision.PRICES)
    words = text(panel(client, "gpu=rtx-4090&ft=lora"))
    # LoRA: 15 GiB of BF16 weights + adapters + 3.8 GiB of activations; FSDP halves the state
    # over two 3090s, at $0.30 an hour the cheapest that fits (the 3060 does not).
    assert "Cheapest current rental for lora: 2 \u00d7 NVIDIA GeForce RTX 3090, Vast.ai" in words
    assert "$0.30/hour" in words
    words = text(panel(client, "gpu=rtx-4090&ft=full"))
    assert "Cheapest current rental for full:" not in words
    assert "No current offer in our price data fits a full run" in words


def test_controls_are_kept_in_the_url_and_junk_is_corrected(client: Client) -> None:
    page = client.get(f"{URL}?ft=bogus&ft_rank=0&ft_seq=10&ft_batch=nan&ft_gc=x&ft_opt=sgd")
    html = page.content.decode()
    assert page.status_code == 200
    for note in ("Fine-tuning method 'bogus' is not one of the options; using lora.",
                 "LoRA rank 0 is out of range (1 to 1024); using 1.",
                 "Sequence length 10 is out of range (128 to 131072); using 128.",
                 "Micro-batch must be a number; using 1."):  # fmt: skip
        assert note in text(html), note
    shown = panel(client, "ft=qlora&ft_rank=64&ft_batch=2")
    assert 'href="?quant=Q4_K_M' in shown and "ft_rank=64" in shown and "ft_batch=2" in shown
    assert "ft_seq" not in shown  # the default is not written into links


def test_a_fine_tuning_control_brings_back_that_panel_alone(client: Client) -> None:
    response = client.get(f"{URL}?ft=full", headers=hx("ft"))
    body = response.content.decode()
    assert 'id="panel-finetune"' in body and 'hx-swap-oob="true"' in body
    assert 'id="panel-serving"' not in body and 'id="panel-quants"' not in body
    config = Model.objects.get(slug="llama-3-1-8b-instruct").estimator_config
    two = finetune_memory(config, replace(Recipe(method="full"), n_gpus=2)).total_bytes
    shown = panel(client, "gpu=h100-sxm&gpu_count=2&ft=full")
    words = text(shown)
    assert "Full fine-tuning weights" in words and f"<strong>{gib(two)}</strong>" in shown
    assert "per GPU (2 GPUs, FSDP)" in words
